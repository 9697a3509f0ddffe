// Package api holds the wire types shared by the jit server and its clients,
// so that the two cannot drift apart. Everything here is JSON under /v1.
package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
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
//
// A person is the pair (Issuer, Subject): that pair, and nothing else, says
// whether two tokens are the same person (requester and approver, distinct
// approvers, ownership, rate limits). Email, Username and Name are
// attributes shown to people; Username is the only one policy entries under
// users: are matched against (docs/security.md).
type User struct {
	Issuer  string `json:"issuer,omitempty"`
	Subject string `json:"subject"`
	// Email is the token's email when the IdP vouches for it
	// (email_verified is JSON true); empty otherwise.
	Email string `json:"email,omitempty"`
	// Username is the verified name policy users: entries match: the
	// verified email, or the claim the operator named in oidc.username_claim.
	Username string `json:"username,omitempty"`
	// UsernameMissing says why Username is empty and what to do (the
	// missing claim and the scope to request); empty when Username is set.
	UsernameMissing string   `json:"username_missing,omitempty"`
	Name            string   `json:"name,omitempty"`
	Groups          []string `json:"groups,omitempty"`
	// Kind is KindWorkload for a token from a workload issuer (CI, a
	// Kubernetes service account); empty for a person. A workload has no
	// email, username or groups: policy matches it on Claims only.
	Kind string `json:"kind,omitempty"`
	// IssuerName is the server config's name for the issuer (issuers[].name;
	// "oidc" for the oidc: block).
	IssuerName string `json:"issuer_name,omitempty"`
	// Claims are a workload token's claims as strings (nested objects
	// flattened with "/"), which policy workload subjects match.
	Claims map[string]string `json:"claims,omitempty"`
	// ManagerClaim is the value of the claim the operator named as the
	// person's manager (oidc.manager_claim): the manager's username or
	// email, when the IdP sends it.
	ManagerClaim string `json:"manager_claim,omitempty"`
}

// KindWorkload marks a User whose token came from a workload issuer.
const KindWorkload = "workload"

// IsWorkload reports whether u is a workload (a pipeline, a service
// account), not a person. Workloads never approve, deny, review or
// administer.
func (u User) IsWorkload() bool { return u.Kind == KindWorkload }

// ID is the name jit shows people and writes in logs: the verified
// username, else the subject. It is never used to decide whether two tokens
// are the same person: compare Principal for that.
func (u User) ID() string {
	if u.Username != "" {
		return u.Username
	}
	if u.Email != "" {
		return u.Email
	}
	return u.Subject
}

// Principal is the key that identifies a person: the token's issuer and
// subject.
type Principal struct {
	Issuer  string
	Subject string
}

// Principal returns u's (issuer, subject).
func (u User) Principal() Principal { return Principal{Issuer: u.Issuer, Subject: u.Subject} }

// String renders the principal as one key: "issuer#subject".
func (p Principal) String() string { return p.Issuer + "#" + p.Subject }

// SlackIssuer is the Issuer of identities taken from a Slack button press:
// a Slack account known only by its confirmed email, not an IdP principal.
const SlackIssuer = "urn:jit:slack"

// Decision is one approver's approval or denial.
type Decision struct {
	// By is the approver as shown to people (User.ID).
	By string `json:"by"`
	// Issuer and Subject are the approver's principal (empty on decisions
	// stored before principals existed).
	Issuer  string    `json:"issuer,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Email   string    `json:"email,omitempty"` // the approver's verified email
	Approve bool      `json:"approve"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// Request is an access request and, once approved, its grant.
type Request struct {
	ID              string `json:"id"`
	Requester       string `json:"requester"` // as shown to people (User.ID)
	Role            string `json:"role"`
	Reason          string `json:"reason,omitempty"`
	Ticket          string `json:"ticket,omitempty"`
	DurationSeconds int64  `json:"duration_seconds"`
	State           State  `json:"state"`
	BreakGlass      bool   `json:"break_glass,omitempty"`
	AutoApproved    bool   `json:"auto_approved,omitempty"`
	// Agent names the AI agent that made the request on the requester's
	// behalf (through jit mcp); empty for a request the requester made.
	Agent           string     `json:"agent,omitempty"`
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
	// PendingExtension is an extension waiting for approvers: one the
	// requester may not give themselves (a break-glass or auto-approved
	// grant past the limit that let it skip approval).
	PendingExtension *Extension `json:"pending_extension,omitempty"`

	// RequesterIssuer and RequesterSubject are the requester's principal:
	// the only key ownership and self-approval are decided on. Empty on
	// requests stored before principals existed.
	RequesterIssuer  string `json:"requester_issuer,omitempty"`
	RequesterSubject string `json:"requester_subject,omitempty"`
	// RequesterEmail is the requester's verified email, when the token
	// had one: shown to people, and compared with an approver's verified
	// email so that one person never approves their own request from
	// another account or channel (Slack).
	RequesterEmail string `json:"requester_email,omitempty"`
	// Manager is the requester's manager as the server's manager source
	// (managers: in the server config) named them when the request was
	// made: the verified username or email that may approve it when the
	// role's approvers include manager_of_requester. Empty when the role
	// has no such rule or the manager could not be found.
	Manager string `json:"manager,omitempty"`

	// Target is where the grant's access was given, recorded in the write
	// that made the request a grant: its end, its credentials and
	// reconcile act there, even after a reload moved or removed the role.
	// Nil before the grant starts (and on grants stored before it existed,
	// which act on the role as the policy says it is).
	Target *GrantTarget `json:"target,omitempty"`
}

// GrantTarget is where a grant's access was given: its kind and the
// role's target settings when it started (policy.TargetSpec, as JSON;
// clients need not read it).
type GrantTarget struct {
	Kind string          `json:"kind"`
	Spec json.RawMessage `json:"spec,omitempty"`
}

// Extension is an extension of a live grant that needs approvers, like a
// request: ApprovalsNeeded distinct approvers, never the requester.
type Extension struct {
	DurationSeconds int64      `json:"duration_seconds"`
	Reason          string     `json:"reason,omitempty"`
	RequestedAt     time.Time  `json:"requested_at"`
	ApprovalsNeeded int        `json:"approvals_needed"`
	Approvals       []Decision `json:"approvals,omitempty"`
	// Why says which limit made approval necessary.
	Why string `json:"why"`
	// Since is the request's Version when the extension was asked for: a
	// decision made on an earlier version was made before it existed
	// (zero on extensions stored before decisions named a version).
	Since int64 `json:"since_version,omitempty"`
}

// Duration is the extension's length.
func (e *Extension) Duration() time.Duration { return time.Duration(e.DurationSeconds) * time.Second }

// Duration is the requested grant length.
func (r *Request) Duration() time.Duration { return time.Duration(r.DurationSeconds) * time.Second }

// AwaitsReview reports whether r is a grant that started, needs a post-hoc
// review and has none yet (the review queue; the store indexes it).
func (r *Request) AwaitsReview() bool {
	return r.ReviewRequired && r.Review == nil && !r.StartsAt.IsZero()
}

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
	// AgentsForbidden: AI agents (jit mcp) may not request the role for
	// the caller. AgentNeedsApproval: an agent's request waits for
	// approvers even where the caller's own would be auto-approved.
	AgentsForbidden    bool `json:"agents_forbidden,omitempty"`
	AgentNeedsApproval bool `json:"agent_needs_approval,omitempty"`
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
	// Agent, when set, says an AI agent makes the request on the
	// requester's behalf (jit mcp sets it to the agent's name): the
	// server records it, shows it to approvers and audits it, and the
	// role's agents: rule applies.
	Agent string `json:"agent,omitempty"`
}

// DecisionBody carries an approver's comment (approve) or reason (deny), or
// the reason for a cancel or revoke.
type DecisionBody struct {
	Comment string `json:"comment,omitempty"`
	// Version is the request's Version the approver was shown (approve and
	// deny): a decision applies only to what waited at that version, so a
	// stale Approve never approves an extension asked for later (409
	// instead). Omitted, it means the request as it was asked for (version
	// 1): a pending request, never an extension.
	Version int64 `json:"version,omitempty"`
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

	// CodeNoCredentials (409): the role's access is not credentials (a
	// directory group, given when the grant started); the grant stands.
	CodeNoCredentials = "no_credentials"
)

// HTTPStatus is the HTTP status the API answers an error code with. The
// numbers are written out: pkg/api is linked into the slim credential path,
// which must not link net/http (pkg/credpath's TestCredentialPathStaysSlim).
func HTTPStatus(code string) int {
	switch code {
	case CodeUnauthenticated:
		return 401 // Unauthorized
	case CodeForbidden:
		return 403 // Forbidden
	case CodeNotFound:
		return 404 // Not Found
	case CodeInvalid:
		return 400 // Bad Request
	case CodeConflict, CodeNoCredentials:
		return 409 // Conflict
	case CodeRateLimited:
		return 429 // Too Many Requests
	case CodeVendFailed:
		return 502 // Bad Gateway
	case CodeUnavailable:
		return 503 // Service Unavailable
	}
	return 500 // Internal Server Error
}

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

// AuditCheckpoint is the audit log's latest signed checkpoint and, when the
// client asked with from=N, the consistency proof from the tree of N records
// to it: one small call lets every client act as a witness.
type AuditCheckpoint struct {
	// Checkpoint is a signed note (golang.org/x/mod/sumdb/note) whose text
	// is origin, size and base64 root hash (C2SP tlog-checkpoint).
	Checkpoint string `json:"checkpoint"`
	// From is the size the consistency proof starts at (0: no proof).
	From        int64       `json:"from,omitempty"`
	Consistency []tlog.Hash `json:"consistency,omitempty"`
}

// AuditProof is a Merkle proof: an inclusion proof of record Seq in the
// tree of Size records, or a consistency proof between the trees of From and
// Size records. Hashes are base64.
type AuditProof struct {
	Seq   int64       `json:"seq,omitempty"`
	From  int64       `json:"from,omitempty"`
	Size  int64       `json:"size"`
	Proof []tlog.Hash `json:"proof"`
}

// AuditKey is the verifier key of the audit log's checkpoints, in
// golang.org/x/mod/sumdb/note's text format (name+hash+base64 key).
type AuditKey struct {
	VerifierKey string `json:"verifier_key"`
}

// SameName reports whether a and b name the same user for policy matching
// and ownership: equal except for the case of ASCII letters. Unicode case
// folding is not used on purpose: strings.EqualFold takes U+212A KELVIN SIGN
// for k and U+017F LONG S for s, so "\u212aate@example.com" (another mailbox,
// another IdP username) would be kate@example.com. Refusals (self-approval,
// distinct approvers) may compare more widely; granting never does.
func SameName(a, b string) bool {
	return len(a) == len(b) && LowerASCII(a) == LowerASCII(b)
}

// LowerASCII lowers ASCII letters only; every other byte is kept.
func LowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// SlackLinkBody is POST /v1/links/slack: the one-time code `/jit link`
// showed in Slack.
type SlackLinkBody struct {
	Code string `json:"code"`
}

// SlackLink is a Slack account linked to the caller's principal: requests
// made from it in Slack are the caller's.
type SlackLink struct {
	TeamID string `json:"team_id"`
	UserID string `json:"user_id"`
	// Principal is who the Slack account requests as (User.ID).
	Principal string    `json:"principal"`
	LinkedAt  time.Time `json:"linked_at"`
	// ExpiresAt is when the link must be renewed (notify.slack.link_max_age).
	ExpiresAt time.Time `json:"expires_at"`
}

// SlackLinks answers GET and DELETE /v1/links/slack.
type SlackLinks struct {
	Links []SlackLink `json:"links"`
	// Removed counts the links a DELETE removed.
	Removed int `json:"removed,omitempty"`
}
