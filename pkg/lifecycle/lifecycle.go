// Package lifecycle is the request state machine (docs/concepts.md):
//
//	pending → approved → active → expired
//
// with side exits denied, cancelled, revoked and timed_out. Every function
// here is pure: it checks that a transition is legal, changes the request and
// returns the audit events that record it. Who may make a transition is the
// policy's business; storing it atomically is the store's.
package lifecycle

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/policy/identity"
)

// TransitionError says that an action is not legal in the request's state.
type TransitionError struct {
	ID     string
	Action string
	State  api.State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s request %s: it is %s", e.Action, e.ID, e.State)
}

// ErrNotDue is returned by Sweep when the request needs no sweeping at now.
var ErrNotDue = fmt.Errorf("not due")

// NewInput is what a new request is made from, after policy checks.
type NewInput struct {
	ID              string
	Requester       string // as shown to people (api.User.ID)
	Create          api.CreateRequest
	Duration        time.Duration
	ApprovalsNeeded int
	AutoApproved    bool
	BreakGlass      bool
	PendingTimeout  time.Duration
	Why             string // the policy's reason for an automatic decision

	// RequesterUser is who asks: their principal is the key ownership and
	// self-approval are decided on; their verified email is recorded too.
	RequesterUser api.User
}

// DetailAgent is the request.created detail naming the AI agent that made
// the request on the requester's behalf (empty: the requester did).
const DetailAgent = "agent"

// New makes a request. An auto-approved or break-glass request is approved at
// once: its grant starts now.
func New(in NewInput, now time.Time) (*api.Request, []audit.Event) {
	r := &api.Request{
		ID:              in.ID,
		Requester:       in.Requester,
		Role:            in.Create.Role,
		Reason:          in.Create.Reason,
		Ticket:          in.Create.Ticket,
		DurationSeconds: int64(in.Duration / time.Second),
		State:           api.StatePending,
		BreakGlass:      in.BreakGlass,
		AutoApproved:    in.AutoApproved,
		Agent:           in.Create.Agent,
		ApprovalsNeeded: in.ApprovalsNeeded,
		CreatedAt:       now,
		UpdatedAt:       now,
		PendingUntil:    now.Add(in.PendingTimeout),
	}
	r.RequesterIssuer, r.RequesterSubject = in.RequesterUser.Issuer, in.RequesterUser.Subject
	r.RequesterEmail = in.RequesterUser.Email
	events := []audit.Event{event(r, audit.TypeRequestCreated, r.Requester, r.Reason, now, map[string]string{
		"duration":              in.Duration.String(),
		"ticket":                r.Ticket,
		DetailRequesterUsername: in.RequesterUser.Username,
		DetailRequesterGroups:   GroupsDetail(in.RequesterUser.Groups),
		DetailAgent:             in.Create.Agent,
	})}
	switch {
	case in.BreakGlass:
		start(r, now)
		events = append(events, event(r, audit.TypeBreakGlass, r.Requester, r.Reason, now, map[string]string{
			"ends_at": r.EndsAt.Format(time.RFC3339), "review": "required",
		}))
	case in.AutoApproved:
		start(r, now)
		events = append(events, event(r, audit.TypeAutoApproved, "policy", in.Why, now, map[string]string{
			"ends_at": r.EndsAt.Format(time.RFC3339),
		}))
	}
	return r, events
}

func start(r *api.Request, now time.Time) {
	r.State = api.StateApproved
	r.StartsAt = now
	r.EndsAt = now.Add(r.Duration())
	r.UpdatedAt = now
}

// Approve records one approval by u; the request is approved once it has as
// many approvals from distinct principals (issuer, subject) as it needs, and
// the grant's clock starts then.
func Approve(r *api.Request, u api.User, comment string, now time.Time) ([]audit.Event, error) {
	by := u.ID()
	if r.State != api.StatePending {
		return nil, &TransitionError{r.ID, "approve", r.State}
	}
	if !now.Before(r.PendingUntil) {
		return nil, &TransitionError{r.ID, "approve", api.StateTimedOut}
	}
	if identity.MayHaveRequested(u, r) {
		return nil, fmt.Errorf("%s requested %s and never approves it", by, r.ID)
	}
	for _, d := range r.Approvals {
		if identity.MayHaveDecided(u, d) {
			return nil, fmt.Errorf("%s has already approved request %s", by, r.ID)
		}
	}
	r.Approvals = append(r.Approvals, api.Decision{By: by, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Approve: true, Comment: comment, At: now})
	r.UpdatedAt = now
	events := []audit.Event{event(r, audit.TypeRequestApproval, by, comment, now, map[string]string{
		"approvals": fmt.Sprintf("%d/%d", len(r.Approvals), r.ApprovalsNeeded),
	})}
	events = Stamp(events, u)
	if len(r.Approvals) >= r.ApprovalsNeeded {
		start(r, now)
		events = append(events, event(r, audit.TypeRequestApproved, by, comment, now, map[string]string{
			"ends_at": r.EndsAt.Format(time.RFC3339),
		}))
		events = Stamp(events, u)
	}
	return events, nil
}

// Deny ends a pending request; the denial records u's principal.
func Deny(r *api.Request, u api.User, reason string, now time.Time) ([]audit.Event, error) {
	if r.State != api.StatePending {
		return nil, &TransitionError{r.ID, "deny", r.State}
	}
	by := u.ID()
	r.State = api.StateDenied
	r.Denial = &api.Decision{By: by, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Comment: reason, At: now}
	r.EndedBy, r.EndReason, r.UpdatedAt = by, reason, now
	return Stamp([]audit.Event{event(r, audit.TypeRequestDenied, by, reason, now, nil)}, u), nil
}

// Cancel ends a pending request at its requester's wish.
func Cancel(r *api.Request, by, reason string, now time.Time) ([]audit.Event, error) {
	if r.State != api.StatePending {
		return nil, &TransitionError{r.ID, "cancel", r.State}
	}
	r.State = api.StateCancelled
	r.EndedBy, r.EndReason, r.UpdatedAt = by, reason, now
	return []audit.Event{event(r, audit.TypeCancelled, by, reason, now, nil)}, nil
}

// Revoke ends a live grant early.
func Revoke(r *api.Request, by, reason string, now time.Time) ([]audit.Event, error) {
	if !r.State.Granted() {
		return nil, &TransitionError{r.ID, "revoke", r.State}
	}
	r.State = api.StateRevoked
	r.EndedBy, r.EndReason, r.UpdatedAt = by, reason, now
	return []audit.Event{event(r, audit.TypeRevoked, by, reason, now, map[string]string{
		"was_ending_at": r.EndsAt.Format(time.RFC3339),
	})}, nil
}

// Extend moves a live grant's end by d.
func Extend(r *api.Request, by string, d time.Duration, reason string, now time.Time) ([]audit.Event, error) {
	if !r.State.Granted() || !now.Before(r.EndsAt) {
		return nil, &TransitionError{r.ID, "extend", r.State}
	}
	if d <= 0 {
		return nil, fmt.Errorf("extension must be positive, got %s", d)
	}
	r.EndsAt = r.EndsAt.Add(d)
	r.DurationSeconds += int64(d / time.Second)
	r.Extensions++
	r.UpdatedAt = now
	return []audit.Event{event(r, audit.TypeExtended, by, reason, now, map[string]string{
		"by": d.String(), "ends_at": r.EndsAt.Format(time.RFC3339),
	})}, nil
}

// Vended records that credentials were handed out; the first makes the grant
// active. It refuses when the grant ended meanwhile, so credentials vended
// concurrently with a revoke are never handed out.
func Vended(r *api.Request, by, accessKeyID string, expires, now time.Time) ([]audit.Event, error) {
	if !r.State.Granted() || !now.Before(r.EndsAt) {
		return nil, &TransitionError{r.ID, "fetch credentials for", stateAt(r, now)}
	}
	r.State = api.StateActive
	r.VendCount++
	r.UpdatedAt = now
	return []audit.Event{event(r, audit.TypeVended, by, "", now, map[string]string{
		"access_key_id": accessKeyID, // an identifier, not a secret: it is what CloudTrail shows
		"expires":       expires.Format(time.RFC3339),
	})}, nil
}

// Sweep expires a grant past its end or times out a request pending too long.
// It returns ErrNotDue when neither applies at now.
func Sweep(r *api.Request, now time.Time) ([]audit.Event, error) {
	switch {
	case r.State == api.StatePending && !now.Before(r.PendingUntil):
		r.State = api.StateTimedOut
		r.EndedBy, r.EndReason, r.UpdatedAt = "sweeper", "no decision in time", now
		return []audit.Event{event(r, audit.TypeTimedOut, "sweeper", "", now, map[string]string{
			"pending_until": r.PendingUntil.Format(time.RFC3339),
		})}, nil
	case r.State.Granted() && !now.Before(r.EndsAt):
		r.State = api.StateExpired
		r.EndedBy, r.UpdatedAt = "sweeper", now
		return []audit.Event{event(r, audit.TypeExpired, "sweeper", "", now, map[string]string{
			"ends_at": r.EndsAt.Format(time.RFC3339),
			"lag":     now.Sub(r.EndsAt).String(),
		})}, nil
	}
	return nil, ErrNotDue
}

// stateAt is the state a request is effectively in at now, before the sweeper
// has caught up with it.
func stateAt(r *api.Request, now time.Time) api.State {
	if r.State.Granted() && !now.Before(r.EndsAt) {
		return api.StateExpired
	}
	if r.State == api.StatePending && !now.Before(r.PendingUntil) {
		return api.StateTimedOut
	}
	return r.State
}

// StateAt is the state a request is effectively in at now: a grant past its
// end is expired even if the sweeper has not run yet.
func StateAt(r *api.Request, now time.Time) api.State { return stateAt(r, now) }

// Audit detail keys that carry identities (additive: records written before
// them verify as before, since Detail is part of the hash).
const (
	DetailActorIssuer      = "actor_iss"
	DetailActorSubject     = "actor_sub"
	DetailActorEmail       = "actor_email"
	DetailRequesterIssuer  = "requester_iss"
	DetailRequesterSubject = "requester_sub"
	// The names and groups policy matched, as the token carried them when
	// the request was made or decided, so a proposed policy can be replayed
	// over the audit log (jit server replay). Groups are a JSON array.
	DetailRequesterUsername = "requester_username"
	DetailRequesterGroups   = "requester_groups"
	DetailActorUsername     = "actor_username"
	DetailActorGroups       = "actor_groups"
	// DetailManager and DetailManagerSource are on request.created when the
	// role lets the requester's manager approve: who the manager source
	// named, and which source (claim, ldap, static).
	DetailManager       = "manager"
	DetailManagerSource = "manager_source"
)

// GroupsDetail renders groups as an audit detail value: a JSON array, "[]"
// for none (so a record says it knew the groups, even when there were none).
func GroupsDetail(groups []string) string {
	if groups == nil {
		groups = []string{}
	}
	b, _ := json.Marshal(groups) // a []string always marshals
	return string(b)
}

// Stamp records u's principal and verified email on the events u is the
// actor of (Actor == u.ID()), so the audit log says who acted, not only the
// name people saw.
func Stamp(events []audit.Event, u api.User) []audit.Event {
	for i := range events {
		if events[i].Actor != u.ID() || u.Subject == "" {
			continue
		}
		if events[i].Detail == nil {
			events[i].Detail = map[string]string{}
		}
		events[i].Detail[DetailActorIssuer] = u.Issuer
		events[i].Detail[DetailActorSubject] = u.Subject
		events[i].Detail[DetailActorGroups] = GroupsDetail(u.Groups)
		if u.Username != "" {
			events[i].Detail[DetailActorUsername] = u.Username
		}
		if u.Email != "" {
			events[i].Detail[DetailActorEmail] = u.Email
		}
	}
	return events
}

func event(r *api.Request, typ, actor, reason string, now time.Time, detail map[string]string) audit.Event {
	if r.RequesterSubject != "" {
		if detail == nil {
			detail = map[string]string{}
		}
		detail[DetailRequesterIssuer] = r.RequesterIssuer
		detail[DetailRequesterSubject] = r.RequesterSubject
	}
	for k, v := range detail {
		if v == "" {
			delete(detail, k)
		}
	}
	return audit.Event{
		Time: now, Type: typ, Actor: actor, Subject: r.Requester, Role: r.Role,
		RequestID: r.ID, Reason: reason, Detail: detail,
	}
}

// RequestExtension records an extension of a live grant that waits for
// approvers (policy.ExtensionApproval said why); the grant keeps its end
// until they agree. One extension waits at a time.
func RequestExtension(r *api.Request, by string, d time.Duration, reason string, needed int, why string, now time.Time) ([]audit.Event, error) {
	if !r.State.Granted() || !now.Before(r.EndsAt) {
		return nil, &TransitionError{r.ID, "extend", stateAt(r, now)}
	}
	if d <= 0 {
		return nil, fmt.Errorf("extension must be positive, got %s", d)
	}
	if r.PendingExtension != nil {
		return nil, &TransitionError{r.ID, "ask for another extension of", "waiting for approval of an extension"}
	}
	r.PendingExtension = &api.Extension{DurationSeconds: int64(d / time.Second), Reason: reason, RequestedAt: now,
		ApprovalsNeeded: needed, Why: why, Since: r.Version + 1} // the version the store gives this change
	r.UpdatedAt = now
	return []audit.Event{event(r, audit.TypeExtensionRequested, by, reason, now, map[string]string{
		"by": d.String(), "approvals_needed": fmt.Sprint(needed), "why": why,
	})}, nil
}

// ApproveExtension records one approval of the waiting extension; with
// enough distinct approvals the grant's end moves (as Extend), the last
// approver being the actor.
func ApproveExtension(r *api.Request, u api.User, comment string, now time.Time) ([]audit.Event, error) {
	by := u.ID()
	x := r.PendingExtension
	if x == nil || !r.State.Granted() || !now.Before(r.EndsAt) {
		return nil, &TransitionError{r.ID, "approve the extension of", stateAt(r, now)}
	}
	if identity.MayHaveRequested(u, r) {
		return nil, fmt.Errorf("%s requested %s and never approves its extension", by, r.ID)
	}
	for _, d := range x.Approvals {
		if identity.MayHaveDecided(u, d) {
			return nil, fmt.Errorf("%s has already approved the extension of request %s", by, r.ID)
		}
	}
	x.Approvals = append(x.Approvals, api.Decision{By: by, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Approve: true, Comment: comment, At: now})
	r.UpdatedAt = now
	events := []audit.Event{event(r, audit.TypeExtensionApproval, by, comment, now, map[string]string{
		"approvals": fmt.Sprintf("%d/%d", len(x.Approvals), x.ApprovalsNeeded), "by": x.Duration().String(),
	})}
	if len(x.Approvals) < x.ApprovalsNeeded {
		return Stamp(events, u), nil
	}
	r.PendingExtension = nil
	ext, err := Extend(r, by, x.Duration(), x.Reason, now)
	if err != nil {
		return nil, err
	}
	ext[0].Detail["approved_by"] = approvers(x.Approvals)
	return Stamp(append(events, ext...), u), nil
}

// DenyExtension drops the waiting extension; the grant keeps its end.
func DenyExtension(r *api.Request, u api.User, reason string, now time.Time) ([]audit.Event, error) {
	by := u.ID()
	x := r.PendingExtension
	if x == nil || !r.State.Granted() {
		return nil, &TransitionError{r.ID, "deny the extension of", r.State}
	}
	r.PendingExtension = nil
	r.UpdatedAt = now
	return Stamp([]audit.Event{event(r, audit.TypeExtensionDenied, by, reason, now, map[string]string{"by": x.Duration().String()})}, u), nil
}

func approvers(ds []api.Decision) string {
	out := ""
	for i, d := range ds {
		if i > 0 {
			out += ","
		}
		out += d.By
	}
	return out
}
