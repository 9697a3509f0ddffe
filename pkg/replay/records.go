// Package replay runs audited requests through a proposed policy (jit server
// replay) and says what would have changed: requests refused, auto-approved
// instead of waiting (or waiting instead), needing other approvers, grants
// that would have been shorter. It reads audit records, from the store or an
// export, and writes nothing; it is pure, like pkg/policy.
package replay

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
)

// What happened to a request, as the audit log recorded it.
const (
	WasAutoApproved = "auto_approved"
	WasBreakGlass   = "break_glass"
	WasApproved     = "approved" // by approvers, after waiting
	WasDenied       = "denied"
	WasTimedOut     = "timed_out"
	WasCancelled    = "cancelled"
	WasPending      = "pending"
)

// Record is one audited request: what was asked, by whom (with the groups
// the token carried), and what happened.
type Record struct {
	ID        string
	At        time.Time
	Requester api.User
	// GroupsKnown: the record carried the requester's groups (records made
	// before jit wrote them do not, and are not replayed).
	GroupsKnown bool
	Role        string
	Duration    time.Duration
	Reason      string
	Ticket      string
	BreakGlass  bool
	Was         string
	// Approvers approved it, with the groups their tokens carried (when
	// recorded: ApproversKnown).
	Approvers      []api.User
	ApproversKnown bool
	// ApprovalsNeeded is what the policy asked for then, when an approval
	// recorded it (0: unknown).
	ApprovalsNeeded int
	// Granted is the grant's length with its extensions (0: never granted).
	Granted    time.Duration
	Extensions int
	// Manager is who the manager source named as the requester's manager
	// (ManagerKnown: the record says, for roles with manager_of_requester).
	Manager      string
	ManagerKnown bool
}

// Collector builds Records from audit events given in sequence order.
type Collector struct {
	byID  map[string]*Record
	order []string
}

// NewCollector returns an empty collector.
func NewCollector() *Collector { return &Collector{byID: map[string]*Record{}} }

// Add takes one audit event; events of requests created before the first
// request.created seen (outside the period) are ignored.
func (c *Collector) Add(e api.AuditEvent) {
	if e.Type == audit.TypeRequestCreated {
		c.created(e)
		return
	}
	r := c.byID[e.RequestID]
	if r == nil {
		return
	}
	switch e.Type {
	case audit.TypeBreakGlass:
		r.BreakGlass, r.Was, r.Granted = true, WasBreakGlass, r.Duration
	case audit.TypeAutoApproved:
		r.Was, r.Granted = WasAutoApproved, r.Duration
	case audit.TypeRequestApproval:
		u, known := actor(e)
		r.Approvers = append(r.Approvers, u)
		r.ApproversKnown = known && (len(r.Approvers) == 1 || r.ApproversKnown)
		var got, need int
		if _, err := fmt.Sscanf(e.Detail["approvals"], "%d/%d", &got, &need); err == nil {
			r.ApprovalsNeeded = need
		}
	case audit.TypeRequestApproved:
		r.Was, r.Granted = WasApproved, r.Duration
	case audit.TypeRequestDenied:
		r.Was = WasDenied
	case audit.TypeTimedOut:
		r.Was = WasTimedOut
	case audit.TypeCancelled:
		r.Was = WasCancelled
	case audit.TypeExtended:
		if d, err := time.ParseDuration(e.Detail["by"]); err == nil {
			r.Granted += d
			r.Extensions++
		}
	}
}

func (c *Collector) created(e api.AuditEvent) {
	d, _ := time.ParseDuration(e.Detail["duration"])
	r := &Record{ID: e.RequestID, At: e.Time, Role: e.Role, Duration: d, Reason: e.Reason,
		Ticket: e.Detail["ticket"], Was: WasPending}
	r.Requester = api.User{Issuer: e.Detail[lifecycle.DetailRequesterIssuer], Subject: e.Detail[lifecycle.DetailRequesterSubject],
		Username: e.Detail[lifecycle.DetailRequesterUsername]}
	if r.Requester.Subject == "" {
		r.Requester.Subject = e.Subject
	}
	r.Requester.Groups, r.GroupsKnown = groups(e.Detail[lifecycle.DetailRequesterGroups])
	r.Manager, r.ManagerKnown = e.Detail[lifecycle.DetailManager]
	if _, dup := c.byID[r.ID]; !dup {
		c.order = append(c.order, r.ID)
	}
	c.byID[r.ID] = r
}

// actor is the person who made e, and whether their groups were recorded.
func actor(e api.AuditEvent) (api.User, bool) {
	u := api.User{Issuer: e.Detail[lifecycle.DetailActorIssuer], Subject: e.Detail[lifecycle.DetailActorSubject],
		Email: e.Detail[lifecycle.DetailActorEmail], Username: e.Detail[lifecycle.DetailActorUsername]}
	if u.Subject == "" {
		u.Subject = e.Actor
	}
	var known bool
	u.Groups, known = groups(e.Detail[lifecycle.DetailActorGroups])
	return u, known
}

func groups(v string) ([]string, bool) {
	if v == "" {
		return nil, false
	}
	var g []string
	if json.Unmarshal([]byte(v), &g) != nil {
		return nil, false
	}
	return g, true
}

// Records returns the requests in the order they were created.
func (c *Collector) Records() []Record {
	out := make([]Record, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, *c.byID[id])
	}
	slices.SortStableFunc(out, func(a, b Record) int { return a.At.Compare(b.At) })
	return out
}

// Collect builds the Records of events, stopping at the first error (an
// export line that does not decode, a store that cannot be read).
func Collect(events iter.Seq2[api.AuditEvent, error]) ([]Record, error) {
	c := NewCollector()
	for e, err := range events {
		if err != nil {
			return nil, err
		}
		c.Add(e)
	}
	return c.Records(), nil
}
