package api

import "time"

// Activity is what a grant's credentials were used for, as reported by the
// services that saw the calls (MinIO's audit webhook, CloudTrail through
// EventBridge). The server keeps one aggregate per grant, never one record
// per call.
type Activity struct {
	Calls  int64 `json:"calls"`
	Errors int64 `json:"errors,omitempty"`
	// FirstUse and LastUse bound the calls seen; zero when none.
	FirstUse time.Time `json:"first_use,omitzero"`
	LastUse  time.Time `json:"last_use,omitzero"`
	// Actions are the distinct actions used ("s3:GetObject"), most used
	// first, at most MaxActivityActions of them.
	Actions []ActionCount `json:"actions,omitempty"`
	// OtherCalls counts calls whose action was not kept because the set of
	// actions was full.
	OtherCalls int64 `json:"other_calls,omitempty"`
}

// MaxActivityActions bounds the distinct actions kept per grant.
const MaxActivityActions = 100

// ActionCount is one action and how often it was called.
type ActionCount struct {
	Action string `json:"action"`
	Calls  int64  `json:"calls"`
}

// Used reports whether any call was seen.
func (a *Activity) Used() bool { return a != nil && a.Calls > 0 }

// Services lists the services of the actions used ("s3"), in first-seen order.
func (a *Activity) Services() []string {
	if a == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, ac := range a.Actions {
		svc := ac.Action
		for i := 0; i < len(svc); i++ {
			if svc[i] == ':' {
				svc = svc[:i]
				break
			}
		}
		if !seen[svc] {
			seen[svc] = true
			out = append(out, svc)
		}
	}
	return out
}

// Verdict is a reviewer's conclusion about a grant.
type Verdict string

// The verdicts.
const (
	VerdictOK      Verdict = "ok"
	VerdictConcern Verdict = "concern"
)

// Review is the post-hoc review of a grant (break-glass, or a role with
// review: required).
type Review struct {
	By      string    `json:"by"`
	Verdict Verdict   `json:"verdict"`
	Note    string    `json:"note,omitempty"`
	At      time.Time `json:"at"`
}

// ReviewBody records a verdict.
type ReviewBody struct {
	Verdict Verdict `json:"verdict"`
	Note    string  `json:"note,omitempty"`
}

// Timeline is a grant's history for a reviewer: the request with its
// activity, and the audit events that concern it in order.
type Timeline struct {
	Request Request      `json:"request"`
	Events  []AuditEvent `json:"events"`
}

// IngestResult says what an activity delivery did.
type IngestResult struct {
	Received  int `json:"received"`  // events in the body
	Recorded  int `json:"recorded"`  // new events folded into a grant
	Duplicate int `json:"duplicate"` // events seen before (by event id)
	Unmatched int `json:"unmatched"` // events whose key maps to no grant of jit's
}

// Report is the access report for auditors (jit report).
type Report struct {
	Since   time.Time     `json:"since"`
	Until   time.Time     `json:"until"`
	Grants  []ReportGrant `json:"grants"`
	Roles   []ReportRole  `json:"roles"`
	People  []ReportCount `json:"people"`
	Unused  []string      `json:"unused"` // ids of grants with no activity
	Summary ReportSummary `json:"summary"`
}

// ReportSummary are the report's totals.
type ReportSummary struct {
	Grants         int `json:"grants"`
	BreakGlass     int `json:"break_glass"`
	AwaitingReview int `json:"awaiting_review"`
	Unused         int `json:"unused"`
}

// ReportGrant is one grant in a report.
type ReportGrant struct {
	ID         string    `json:"id"`
	Requester  string    `json:"requester"`
	Role       string    `json:"role"`
	State      State     `json:"state"`
	Start      time.Time `json:"start"`
	Approvers  []string  `json:"approvers,omitempty"`
	Asked      int64     `json:"asked_seconds"`
	Used       int64     `json:"used_seconds"` // start to end (or until, when still live)
	Calls      int64     `json:"calls"`
	BreakGlass bool      `json:"break_glass,omitempty"`
	Review     string    `json:"review,omitempty"` // "", "pending", "ok", "concern"
}

// ReportRole sums one role's grants.
type ReportRole struct {
	Role    string        `json:"role"`
	Grants  int           `json:"grants"`
	Unused  int           `json:"unused"`
	Calls   int64         `json:"calls"`
	Actions []ActionCount `json:"actions,omitempty"`
	// Hint is a least-privilege hint when the role was used for few actions.
	Hint string `json:"hint,omitempty"`
}

// ReportCount is a person's number of grants.
type ReportCount struct {
	Name   string `json:"name"`
	Grants int    `json:"grants"`
}
