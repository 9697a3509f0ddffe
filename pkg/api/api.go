// Package api holds the wire types shared by the jit server and its clients,
// so that the two cannot drift apart. Everything here is JSON under /v1.
package api

import (
	"fmt"
	"strings"
	"time"
)

// State is where a request is in its lifecycle (docs/concepts.md):
//
//	pending → approved → active → expired
//
// with side exits denied, cancelled, revoked and timed_out.
type State string

// The lifecycle states.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved" // decided; the grant's clock runs, no credentials vended yet
	StateActive    State = "active"   // credentials vended at least once
	StateExpired   State = "expired"
	StateDenied    State = "denied"
	StateCancelled State = "cancelled"
	StateRevoked   State = "revoked"
	StateTimedOut  State = "timed_out"
)

// Final reports whether no transition leaves s.
func (s State) Final() bool {
	switch s {
	case StatePending, StateApproved, StateActive:
		return false
	}
	return true
}

// Granted reports whether s is a live grant (credentials may be vended).
func (s State) Granted() bool { return s == StateApproved || s == StateActive }

// User is an identity as the server verified it from the IdP's token.
type User struct {
	Subject string   `json:"subject"`
	Email   string   `json:"email,omitempty"`
	Name    string   `json:"name,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// ID is the name jit shows and matches policy against: the email when the
// IdP gives one, else the subject.
func (u User) ID() string {
	if u.Email != "" {
		return u.Email
	}
	return u.Subject
}

// Decision is one approver's approval or denial.
type Decision struct {
	By      string    `json:"by"`
	Approve bool      `json:"approve"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Request is an access request and, once approved, its grant.
type Request struct {
	ID              string     `json:"id"`
	Requester       string     `json:"requester"`
	Role            string     `json:"role"`
	Reason          string     `json:"reason,omitempty"`
	Ticket          string     `json:"ticket,omitempty"`
	DurationSeconds int64      `json:"duration_seconds"`
	State           State      `json:"state"`
	BreakGlass      bool       `json:"break_glass,omitempty"`
	AutoApproved    bool       `json:"auto_approved,omitempty"`
	Approvals       []Decision `json:"approvals,omitempty"`
	ApprovalsNeeded int        `json:"approvals_needed"`
	Denial          *Decision  `json:"denial,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// PendingUntil is when a pending request times out.
	PendingUntil time.Time `json:"pending_until"`
	// StartsAt and EndsAt bound the grant; zero until approval.
	StartsAt   time.Time `json:"starts_at,omitzero"`
	EndsAt     time.Time `json:"ends_at,omitzero"`
	Extensions int       `json:"extensions,omitempty"`
	// EndedBy and EndReason say who cancelled or revoked and why.
	EndedBy   string `json:"ended_by,omitempty"`
	EndReason string `json:"end_reason,omitempty"`
	// VendCount counts credential fetches.
	VendCount int `json:"vend_count,omitempty"`
	// ReviewRequired marks a grant that needs a post-hoc review (break-glass,
	// or a role with review: required); Review is the verdict once given.
	ReviewRequired bool    `json:"review_required,omitempty"`
	Review         *Review `json:"review,omitempty"`
	// Activity is what the grant's credentials were used for; the server
	// fills it in responses (it is kept apart from the request).
	Activity *Activity `json:"activity,omitempty"`
	// Version increases with every stored change.
	Version int64 `json:"version"`
}

// Duration is the requested grant length.
func (r *Request) Duration() time.Duration { return time.Duration(r.DurationSeconds) * time.Second }

// Remaining is the grant time left at now (zero when not granted or over).
func (r *Request) Remaining(now time.Time) time.Duration {
	if !r.State.Granted() || !now.Before(r.EndsAt) {
		return 0
	}
	return r.EndsAt.Sub(now)
}

// Role is a role as shown to a caller who may request it.
type Role struct {
	Name              string `json:"name"`
	Description       string `json:"description,omitempty"`
	Account           string `json:"account,omitempty"`
	ARN               string `json:"arn"`
	Region            string `json:"region,omitempty"`
	DefaultDuration   int64  `json:"default_duration_seconds"`
	MaxDuration       int64  `json:"max_duration_seconds"`
	ReasonRequired    bool   `json:"reason_required"`
	TicketRequired    bool   `json:"ticket_required,omitempty"`
	TicketPattern     string `json:"ticket_pattern,omitempty"`
	ApprovalsRequired int    `json:"approvals_required"`
	// AutoApproved says whether a request by this caller would be approved at once.
	AutoApproved bool `json:"auto_approved"`
	BreakGlass   bool `json:"break_glass,omitempty"`
}

// RolesResponse lists the roles the caller may request.
type RolesResponse struct {
	Roles []Role `json:"roles"`
}

// Discovery tells the CLI how to log in and what it talks to. It is the only
// unauthenticated API call besides health.
type Discovery struct {
	Issuer        string    `json:"issuer"`
	ClientID      string    `json:"client_id"`
	Scopes        []string  `json:"scopes"`
	ServerVersion string    `json:"server_version"`
	ServerTime    time.Time `json:"server_time"`
}

// CreateRequest asks for a role.
type CreateRequest struct {
	Role            string `json:"role"`
	Reason          string `json:"reason,omitempty"`
	Ticket          string `json:"ticket,omitempty"`
	DurationSeconds int64  `json:"duration_seconds,omitempty"` // 0: the role's default
	BreakGlass      bool   `json:"break_glass,omitempty"`
}

// DecisionBody carries an approver's comment (approve) or reason (deny), or
// the reason for a cancel or revoke.
type DecisionBody struct {
	Comment string `json:"comment,omitempty"`
}

// ExtendBody asks for more time on a live grant.
type ExtendBody struct {
	DurationSeconds int64  `json:"duration_seconds"`
	Reason          string `json:"reason,omitempty"`
}

// RequestList is one page of requests.
type RequestList struct {
	Requests   []Request `json:"requests"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

// Credentials are STS credentials for an active grant.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token"`
	// Expiration is the earlier of the STS expiry and the grant's end.
	Expiration time.Time `json:"expiration"`
	// STSExpiration is what STS said; past GrantEndsAt the session policy denies everything.
	STSExpiration time.Time `json:"sts_expiration"`
	GrantEndsAt   time.Time `json:"grant_ends_at"`
	RequestID     string    `json:"request_id"`
	Role          string    `json:"role"`
	Region        string    `json:"region,omitempty"`
}

// String never shows the secret parts.
func (c Credentials) String() string {
	return fmt.Sprintf("credentials{key=%s role=%s expires=%s}", c.AccessKeyID, c.Role, c.Expiration.Format(time.RFC3339))
}

// AuditEvent is one record of the hash-chained audit log.
type AuditEvent struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject,omitempty"` // the requester the event concerns
	Role      string            `json:"role,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	PrevHash  string            `json:"prev_hash"`
	Hash      string            `json:"hash"`
}

// AuditList is one page of audit events.
type AuditList struct {
	Events     []AuditEvent `json:"events"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// Error is the body of every non-2xx response.
type Error struct {
	// Code is a stable machine-readable word (see the Code constants).
	Code    string `json:"code"`
	Message string `json:"message"`
	// Hint says what to do next, when there is something to do.
	Hint string `json:"hint,omitempty"`
}

func (e *Error) Error() string {
	if e.Hint != "" {
		return e.Message + " (" + e.Hint + ")"
	}
	return e.Message
}

// Error codes.
const (
	CodeUnauthenticated = "unauthenticated" // 401: no, bad or expired token
	CodeForbidden       = "forbidden"       // 403: policy says no
	CodeNotFound        = "not_found"
	CodeInvalid         = "invalid"  // 400: bad input
	CodeConflict        = "conflict" // 409: illegal transition
	CodeRateLimited     = "rate_limited"
	CodeVendFailed      = "vend_failed" // 502: STS refused
	CodeUnavailable     = "unavailable" // 503: shutting down, retry
	CodeInternal        = "internal"
)

// FormatDuration writes a duration the way people write one — 45s, 30m, 1h,
// 1h30m — so the CLI, the picker, the web page and the policy's messages all
// agree.
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
