package store

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

// KeyGrant is the grant an access key was vended for.
type KeyGrant struct {
	AccessKeyID string
	RequestID   string
	Requester   string
	Role        string
}

// Call is one API call made with a grant's credentials, as a service
// reported it. EventID makes a delivery idempotent: a call whose EventID was
// seen before is not counted again.
type Call struct {
	EventID   string
	RequestID string
	Requester string
	Role      string
	Time      time.Time
	Action    string // "s3:GetObject"
	Error     bool
	// Received is when jit was told of the call (zero: the store's clock).
	// An EventID is remembered from then, not from the call's own Time: a
	// sender retrying an old event is still within the window.
	Received time.Time
}

// ActivityStore keeps what grants did with their credentials: which access
// key belongs to which grant, and per grant an aggregate (calls, errors,
// first and last use, a bounded set of actions) plus the part of it not yet
// written to the audit log. It is part of Store; storetest.RunActivity
// is its suite.
type ActivityStore interface {
	// RememberKey records the grant an access key was vended for.
	RememberKey(ctx context.Context, k KeyGrant, at time.Time) error
	// GrantForKey returns the grant of an access key, or ErrNotFound.
	GrantForKey(ctx context.Context, accessKeyID string) (KeyGrant, error)
	// RecordActivity folds calls into their grants' aggregates in one
	// transaction, skipping calls whose EventID was recorded before. It
	// returns how many calls were new.
	RecordActivity(ctx context.Context, calls []Call) (int, error)
	// Activity returns the aggregates of the given grants; a grant with no
	// calls is absent from the map.
	Activity(ctx context.Context, requestIDs ...string) (map[string]api.Activity, error)
	// FlushActivity writes one grant.activity audit event for every grant
	// whose unreported window began at or before startedBefore, or that is
	// named in ended, and starts a new window; it also forgets event ids
	// received before forgetBefore. It returns the number of events written.
	FlushActivity(ctx context.Context, now, startedBefore, forgetBefore time.Time, ended ...string) (int, error)
}

// ActivityWindow is an aggregate's part not yet written to the audit log.
type ActivityWindow struct {
	Calls, Errors int64
	Start         time.Time
	Actions       map[string]int64
}

// Aggregate is a grant's activity as both stores keep it: totals plus the
// unreported window. Merge folds calls in; the bounded action set is
// enforced here so the stores agree.
type Aggregate struct {
	RequestID, Requester, Role string
	Calls, Errors, Other       int64
	First, Last                time.Time
	Actions                    map[string]int64
	Window                     ActivityWindow
}

// Merge adds one call to the aggregate.
func (a *Aggregate) Merge(c Call) {
	if a.Actions == nil {
		a.Actions = map[string]int64{}
	}
	if a.Window.Actions == nil {
		a.Window.Actions = map[string]int64{}
	}
	a.RequestID, a.Requester, a.Role = c.RequestID, c.Requester, c.Role
	a.Calls++
	a.Window.Calls++
	if c.Error {
		a.Errors++
		a.Window.Errors++
	}
	t := c.Time.UTC().Round(0)
	if a.First.IsZero() || t.Before(a.First) {
		a.First = t
	}
	if t.After(a.Last) {
		a.Last = t
	}
	if a.Window.Start.IsZero() || t.Before(a.Window.Start) {
		a.Window.Start = t
	}
	if _, ok := a.Actions[c.Action]; ok || len(a.Actions) < api.MaxActivityActions {
		a.Actions[c.Action]++
	} else {
		a.Other++
	}
	if _, ok := a.Window.Actions[c.Action]; ok || len(a.Window.Actions) < api.MaxActivityActions {
		a.Window.Actions[c.Action]++
	}
}

// API returns the aggregate as the API shows it.
func (a *Aggregate) API() api.Activity {
	return api.Activity{Calls: a.Calls, Errors: a.Errors, FirstUse: a.First, LastUse: a.Last,
		Actions: SortedActions(a.Actions), OtherCalls: a.Other}
}

// SortedActions lists actions most used first, then by name.
func SortedActions(m map[string]int64) []api.ActionCount {
	out := make([]api.ActionCount, 0, len(m))
	for k, v := range m {
		out = append(out, api.ActionCount{Action: k, Calls: v})
	}
	slices.SortFunc(out, func(a, b api.ActionCount) int {
		if a.Calls != b.Calls {
			if a.Calls > b.Calls {
				return -1
			}
			return 1
		}
		if a.Action < b.Action {
			return -1
		}
		if a.Action > b.Action {
			return 1
		}
		return 0
	})
	return out
}

// WindowEvent is the grant.activity audit record of an aggregate's window.
func (a *Aggregate) WindowEvent(now time.Time) audit.Event {
	actions := SortedActions(a.Window.Actions)
	list := ""
	for i, ac := range actions {
		if i > 0 {
			list += ","
		}
		list += ac.Action + "=" + itoa(ac.Calls)
	}
	return audit.Event{Time: now, Type: audit.TypeActivity, Actor: "activity", Subject: a.Requester, Role: a.Role, RequestID: a.RequestID,
		Detail: map[string]string{
			"calls": itoa(a.Window.Calls), "errors": itoa(a.Window.Errors),
			"from": a.Window.Start.UTC().Format(time.RFC3339), "actions": list,
			"total_calls": itoa(a.Calls), "last_use": a.Last.UTC().Format(time.RFC3339),
		}}
}

// ResetWindow starts a new, empty window.
func (a *Aggregate) ResetWindow() { a.Window = ActivityWindow{Actions: map[string]int64{}} }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
