// Package policy decides who may do what with jit: which roles a user may
// request, whether a request is approved at once (auto-approve, break-glass)
// or needs approvers, and who may approve, deny, revoke, cancel, view and
// extend a request. It is pure: no I/O, no clock; the server passes times in.
package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy/identity"
)

// Defaults and limits (docs/policy.md, roles[]).
const (
	DefaultMaxSessionDuration = time.Hour
	DefaultPendingTimeout     = time.Hour
	// MaxGrant is the longest grant any role may allow: the IAM maximum
	// session length (12 h).
	MaxGrant = 12 * time.Hour
	// MaxReasonLength bounds the free-text reason.
	MaxReasonLength = 1000
	// MaxTicketLength bounds the ticket reference.
	MaxTicketLength = 200
)

// Subjects is a set of IdP users and groups. Users are matched,
// ignoring the case of ASCII letters only (api.SameName), against api.User.Username only: the email when the IdP
// vouches for it (email_verified is JSON true) or the claim named by
// oidc.username_claim. Never the subject, so a token whose sub merely looks
// like carol@example.com is not carol. Groups are matched exactly against
// the token's groups claim.
//
// Workloads (pipelines, service accounts: api.User.IsWorkload) match only
// Workloads entries, on their token's claims; people match only Users and
// Groups. So no workload token, whatever claims it carries, is ever one of
// the users or groups (workload.go).
//
// ManagerOfRequester (approvers: only) adds the requester's manager, as the
// server's manager source names them for each request (manager.go).
type Subjects struct {
	Users     []string          `yaml:"users" json:"users,omitempty"`
	Groups    []string          `yaml:"groups" json:"groups,omitempty"`
	Workloads []WorkloadSubject `yaml:"workloads" json:"workloads,omitempty"`
	// ManagerOfRequester lets the requester's manager approve (approvers:
	// only; never the requester, never a workload).
	ManagerOfRequester bool `yaml:"manager_of_requester" json:"manager_of_requester,omitempty"`
}

// Match reports whether u is one of the users or in one of the groups, or,
// for a workload, one of the workloads.
func (s Subjects) Match(u api.User) bool {
	if u.IsWorkload() {
		return s.matchWorkload(u)
	}
	id := u.Username
	if id != "" && slices.ContainsFunc(s.Users, func(x string) bool { return api.SameName(x, id) }) {
		return true
	}
	for _, g := range u.Groups {
		if slices.Contains(s.Groups, g) {
			return true
		}
	}
	return false
}

// missingClaim explains, for a user s did not match, that s names users
// and the token had no verified username to match them with: the missing
// claim and the scope to request. Empty when that is not why.
func (s Subjects) missingClaim(u api.User) string {
	if u.IsWorkload() {
		return s.workloadMismatch(u)
	}
	if len(s.Users) == 0 || u.Username != "" || u.UsernameMissing == "" {
		return ""
	}
	return "this policy names users, and " + u.UsernameMissing
}

// withClaimHint prefixes hint with why u's token could not be matched by
// name, when that is a reason s did not match.
func (s Subjects) withClaimHint(u api.User, hint string) string {
	if m := s.missingClaim(u); m != "" {
		return m + "; " + hint
	}
	return hint
}

// Empty reports whether nobody is listed.
func (s Subjects) Empty() bool {
	return len(s.Users) == 0 && len(s.Groups) == 0 && len(s.Workloads) == 0 && !s.ManagerOfRequester
}

// String renders the set for people: "groups approvers, sre; users bob@x".
func (s Subjects) String() string {
	var parts []string
	if len(s.Groups) > 0 {
		parts = append(parts, "groups "+strings.Join(s.Groups, ", "))
	}
	if len(s.Users) > 0 {
		parts = append(parts, "users "+strings.Join(s.Users, ", "))
	}
	if len(s.Workloads) > 0 {
		ws := make([]string, len(s.Workloads))
		for i, w := range s.Workloads {
			ws[i] = w.String()
		}
		parts = append(parts, "workloads "+strings.Join(ws, ", "))
	}
	if s.ManagerOfRequester {
		parts = append(parts, "the requester's manager")
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, "; ")
}

// AutoApprove lets some eligible users have short grants without approvers.
type AutoApprove struct {
	Subjects
	// MaxDuration is the longest grant approved at once; longer requests
	// need approvers as usual.
	MaxDuration time.Duration
}

// BreakGlass lets some eligible users activate a role themselves in an
// emergency: a reason is mandatory, everyone is notified and the grant is
// flagged for review.
type BreakGlass struct {
	// Subjects may break glass; empty means every eligible user.
	Subjects
	MaxDuration time.Duration
}

// Kinds of access a role grants (roles[].kind): each is one target
// implementation in pkg/target.
const (
	// KindAWSRole is an AWS IAM role assumed with STS (pkg/target/awsrole),
	// the kind of a role that names none.
	KindAWSRole = "aws_role"
	// KindLDAPGroup is membership of an LDAP / Active Directory group for
	// the grant (pkg/target/ldapgroup).
	KindLDAPGroup = "ldap_group"
)

// Kinds are the kinds a policy accepts, in the order errors list them.
func Kinds() []string { return []string{KindAWSRole, KindLDAPGroup} }

// LDAPGroup is an ldap_group role's target: the group, and how the
// requester's entry is found from their verified name (api.User.ID).
type LDAPGroup struct {
	// Group is the group's DN (a groupOfNames or an AD group).
	Group string `json:"group"`
	// MemberDN is a DN template: {user} is replaced by the requester's
	// name, DN-escaped. Exactly one of MemberDN and SearchFilter is set.
	MemberDN string `json:"member_dn,omitempty"`
	// SearchBase and SearchFilter find the requester's entry (subtree
	// search; {user} is replaced, filter-escaped; exactly one entry).
	SearchBase   string `json:"search_base,omitempty"`
	SearchFilter string `json:"search_filter,omitempty"`
}

// TargetSpec is the part of a role that says where its access is given:
// its kind and that kind's settings. A grant records it when it starts
// (api.Request.Target, StartedRole), so that the grant's end, its
// credentials and reconcile act where it began even after a reload moved
// or removed the role. Every setting that says where access is belongs
// here, not in Role (TestRoleSettingsThatSayWhereAreInTheTargetSpec).
type TargetSpec struct {
	// Kind is the kind of access the role grants [KindAWSRole].
	Kind    string `json:"kind,omitempty"`
	Account string `json:"account,omitempty"`
	ARN     string `json:"arn,omitempty"`
	Region  string `json:"region,omitempty"`
	// MaxSessionDuration is the IAM role's MaxSessionDuration (1–12 h).
	MaxSessionDuration time.Duration `json:"max_session_duration,omitempty"`
	// SessionPolicy is an optional JSON policy that scopes sessions down.
	SessionPolicy string `json:"session_policy,omitempty"`
	// LDAP is an ldap_group role's group and member lookup (nil otherwise).
	LDAP *LDAPGroup `json:"ldap,omitempty"`
}

// Role is one requestable role with its rules, validated.
type Role struct {
	Name        string
	Description string
	// TargetSpec is where the role's access is given.
	TargetSpec
	Eligible Subjects
	// DefaultDuration is used when a request names no duration.
	DefaultDuration time.Duration
	MaxDuration     time.Duration
	ReasonRequired  bool
	// TicketPattern, when set, makes a ticket mandatory and must match it.
	TicketPattern     *regexp.Regexp
	Approvers         Subjects
	ApprovalsRequired int
	AutoApprove       *AutoApprove // nil: none
	BreakGlass        *BreakGlass  // nil: not allowed
	PendingTimeout    time.Duration
	MaxExtensions     int
	// MaxTotalDuration caps a grant including its extensions.
	MaxTotalDuration time.Duration
	SlackChannel     string
	// IdleTimeout, when set, revokes a grant with no activity for that long.
	IdleTimeout time.Duration
	// ReviewRequired asks for a post-hoc review of every grant of the role.
	ReviewRequired bool
	// Agents is what AI agents may do with the role (agent.go).
	Agents AgentRule
}

// TargetKind is the role's kind, KindAWSRole when unset.
func (r *Role) TargetKind() string {
	if r.Kind == "" {
		return KindAWSRole
	}
	return r.Kind
}

// Policy is the whole validated policy. Build it with Parse, Load or
// FromDoc; the zero value allows nothing.
type Policy struct {
	Roles  []*Role
	Admins Subjects
	// Warnings are problems that do not stop the server but deserve a look,
	// positioned like errors ("jit.yaml:30:5: roles[0].approvers: ...").
	Warnings []string

	byName map[string]*Role
}

// Role looks a role up by name.
func (p *Policy) Role(name string) (*Role, bool) {
	r, ok := p.byName[name]
	return r, ok
}

// Eligible lists the roles u may request, in policy order.
func (p *Policy) Eligible(u api.User) []*Role {
	var out []*Role
	for _, r := range p.Roles {
		if r.Eligible.Match(u) {
			out = append(out, r)
		}
	}
	return out
}

// IsAdmin reports whether u is a jit admin (may view, cancel and revoke any
// request; admins approve only when they are also listed as approvers).
func (p *Policy) IsAdmin(u api.User) bool { return p.Admins.Match(u) }

// Approvers returns who may approve requests for role (nobody for an
// unknown role).
func (p *Policy) Approvers(role string) Subjects {
	if r, ok := p.Role(role); ok {
		return r.Approvers
	}
	return Subjects{}
}

// PendingTimeout is how long a request for role may wait for approval.
func (p *Policy) PendingTimeout(role string) time.Duration {
	if r, ok := p.Role(role); ok {
		return r.PendingTimeout
	}
	return DefaultPendingTimeout
}

// autoApproves reports whether r auto-approves u for d.
func (r *Role) autoApproves(u api.User, d time.Duration) bool {
	return r.AutoApprove != nil && r.AutoApprove.Match(u) && d <= r.AutoApprove.MaxDuration
}

// mayBreakGlass reports whether u may break glass on r (u must be eligible).
func (r *Role) mayBreakGlass(u api.User) bool {
	if r.BreakGlass == nil || !r.Eligible.Match(u) {
		return false
	}
	return r.BreakGlass.Empty() || r.BreakGlass.Match(u)
}

// APIRole is the wire view of r for u; AutoApproved says whether u's request
// for the default duration would be approved at once.
func (p *Policy) APIRole(r *Role, u api.User) api.Role {
	out := api.Role{
		Name:               r.Name,
		Description:        r.Description,
		Account:            r.Account,
		ARN:                r.ARN,
		Region:             r.Region,
		DefaultDuration:    int64(r.DefaultDuration / time.Second),
		MaxDuration:        int64(r.MaxDuration / time.Second),
		ReasonRequired:     r.ReasonRequired,
		ApprovalsRequired:  r.ApprovalsRequired,
		AutoApproved:       r.Eligible.Match(u) && r.autoApproves(u, r.DefaultDuration),
		BreakGlass:         r.mayBreakGlass(u),
		AgentsForbidden:    !r.Agents.Allowed,
		AgentNeedsApproval: r.Agents.HumanApproval,
	}
	if r.TicketPattern != nil {
		out.TicketRequired = true
		out.TicketPattern = r.TicketPattern.String()
	}
	return out
}

func (p *Policy) roleOf(req *api.Request) (*Role, error) {
	r, ok := p.Role(req.Role)
	if !ok {
		return nil, &DeniedError{Reason: fmt.Sprintf("role %q is no longer in the policy", req.Role),
			Hint: "an admin can still revoke or cancel the request"}
	}
	return r, nil
}

// isRequester compares principals (issuer, subject), never names.
func isRequester(u api.User, req *api.Request) bool { return identity.Requested(u, req) }

// decidedBy reports whether u (by principal, or by the same verified
// email) already decided on req, and how.
func decidedBy(u api.User, req *api.Request) (approved, decided bool) {
	for _, d := range req.Approvals {
		if identity.MayHaveDecided(u, d) {
			return d.Approve, true
		}
	}
	if req.Denial != nil && identity.MayHaveDecided(u, *req.Denial) {
		return false, true
	}
	return false, false
}

func (p *Policy) checkDecider(u api.User, req *api.Request, verb string) error {
	r, err := p.roleOf(req)
	if err != nil {
		return err
	}
	if u.IsWorkload() {
		return workloadNeverDecides(u, verb)
	}
	if identity.MayHaveRequested(u, req) {
		if verb == "approve" {
			return &DeniedError{Reason: "a requester never approves their own request",
				Hint: fmt.Sprintf("ask one of %s to approve it", r.Approvers), Rule: "self-approval"}
		}
		return &DeniedError{Reason: "a requester does not deny their own request",
			Hint: fmt.Sprintf("withdraw it instead: jit cancel %s", req.ID)}
	}
	if !r.approves(u, req) {
		return &DeniedError{Reason: fmt.Sprintf("%s is not an approver for %s", u.ID(), r.Name),
			Hint: r.Approvers.withClaimHint(u, r.approversHint(req)), Rule: r.rule("approvers")}
	}
	if req.State != api.StatePending {
		return &ConflictError{Reason: fmt.Sprintf("request %s is %s, not pending", req.ID, req.State),
			Hint: fmt.Sprintf("see it with: jit show %s", req.ID)}
	}
	if approved, ok := decidedBy(u, req); ok {
		word := "denied"
		if approved {
			word = "approved"
		}
		return &ConflictError{Reason: fmt.Sprintf("%s already %s request %s", u.ID(), word, req.ID),
			Hint: "each approver decides once; another approver must add theirs"}
	}
	return nil
}

// CanApprove says whether u may approve req: an approver of its role, not
// its requester, not yet decided by u, and req still pending.
func (p *Policy) CanApprove(u api.User, req *api.Request) error {
	return p.checkDecider(u, req, "approve")
}

// CanDeny says whether u may deny req (the same rules as CanApprove).
func (p *Policy) CanDeny(u api.User, req *api.Request) error {
	return p.checkDecider(u, req, "deny")
}

// CanRevoke says whether u may end req's live grant early: its requester,
// an approver of its role, or an admin.
func (p *Policy) CanRevoke(u api.User, req *api.Request) error {
	if !isRequester(u, req) && !p.IsAdmin(u) && !p.approvesRole(u, req) {
		return &DeniedError{Reason: fmt.Sprintf("%s may not revoke request %s", u.ID(), req.ID),
			Hint: "its requester, an approver of the role or an admin can"}
	}
	if !req.State.Granted() {
		hint := fmt.Sprintf("see it with: jit show %s", req.ID)
		if req.State == api.StatePending {
			hint = fmt.Sprintf("a pending request is cancelled (jit cancel %s) or denied (jit deny %s)", req.ID, req.ID)
		}
		return &ConflictError{Reason: fmt.Sprintf("request %s is %s, not a live grant", req.ID, req.State), Hint: hint}
	}
	return nil
}

// CanCancel says whether u may withdraw the pending req: its requester or
// an admin.
func (p *Policy) CanCancel(u api.User, req *api.Request) error {
	if !isRequester(u, req) && !p.IsAdmin(u) {
		return &DeniedError{Reason: fmt.Sprintf("only the requester (%s) or an admin may cancel request %s", req.Requester, req.ID),
			Hint: fmt.Sprintf("to refuse it, deny it: jit deny %s", req.ID)}
	}
	if req.State != api.StatePending {
		hint := fmt.Sprintf("see it with: jit show %s", req.ID)
		if req.State.Granted() {
			hint = fmt.Sprintf("end a live grant with: jit revoke %s", req.ID)
		}
		return &ConflictError{Reason: fmt.Sprintf("request %s is %s, not pending", req.ID, req.State), Hint: hint}
	}
	return nil
}

// CanView says whether u may see req: its requester, an approver of its
// role, or an admin.
func (p *Policy) CanView(u api.User, req *api.Request) bool {
	return isRequester(u, req) || p.IsAdmin(u) || p.approvesRole(u, req)
}

// CheckExtend says whether u may lengthen req's live grant by `by`: only its
// requester, while extensions are left and the total stays within the
// role's max_total_duration.
func (p *Policy) CheckExtend(u api.User, req *api.Request, by time.Duration) error {
	r, err := p.roleOf(req)
	if err != nil {
		return err
	}
	if !isRequester(u, req) {
		return &DeniedError{Reason: fmt.Sprintf("only the requester (%s) may extend request %s", req.Requester, req.ID),
			Hint: "ask them to run jit extend, or request the role yourself"}
	}
	if !req.State.Granted() {
		return &ConflictError{Reason: fmt.Sprintf("request %s is %s, not a live grant", req.ID, req.State),
			Hint: fmt.Sprintf("request it again: jit request %s", r.Name)}
	}
	if r.MaxExtensions == 0 {
		return &DeniedError{Reason: fmt.Sprintf("%s allows no extensions", r.Name),
			Hint: fmt.Sprintf("request it again when this grant ends: jit request %s", r.Name), Rule: r.rule("max_extensions")}
	}
	if req.Extensions >= r.MaxExtensions {
		return &DeniedError{Reason: fmt.Sprintf("request %s has used all %d extension(s) %s allows", req.ID, r.MaxExtensions, r.Name),
			Hint: fmt.Sprintf("request it again when this grant ends: jit request %s", r.Name), Rule: r.rule("max_extensions")}
	}
	if by <= 0 {
		return &InvalidError{Field: "duration", Reason: "an extension must be positive", Hint: "ask for --by 30m, for example"}
	}
	total := req.Duration()
	if !req.StartsAt.IsZero() && req.EndsAt.After(req.StartsAt) {
		total = req.EndsAt.Sub(req.StartsAt)
	}
	left := r.MaxTotalDuration - total
	if by > left {
		if left <= 0 {
			return &DeniedError{Reason: fmt.Sprintf("request %s already has the total max of %s for %s", req.ID, api.FormatDuration(r.MaxTotalDuration), r.Name),
				Hint: fmt.Sprintf("request it again when this grant ends: jit request %s", r.Name), Rule: r.rule("max_total_duration")}
		}
		return &InvalidError{Field: "duration",
			Reason: fmt.Sprintf("max total for %s is %s and this grant already has %s", r.Name, api.FormatDuration(r.MaxTotalDuration), api.FormatDuration(total)),
			Hint:   fmt.Sprintf("ask for --by %s or less", api.FormatDuration(left)), Rule: r.rule("max_total_duration")}
	}
	return nil
}

// human renders a duration without trailing zero units: 4h, 1h30m, 45s.

// NeedsReview says whether a grant of role, break-glass or not, waits for a
// post-hoc review once granted.
func (p *Policy) NeedsReview(role string, breakGlass bool) bool {
	if breakGlass {
		return true
	}
	r, ok := p.Role(role)
	return ok && r.ReviewRequired
}

// CanReview says whether u may record a verdict on req: an approver of its
// role who is not its requester, once the grant has started, if it needs a
// review and has none yet.
func (p *Policy) CanReview(u api.User, req *api.Request) error {
	r, err := p.roleOf(req)
	if err != nil {
		return err
	}
	if u.IsWorkload() {
		return workloadNeverDecides(u, "review")
	}
	if identity.MayHaveRequested(u, req) { // principal, or the same verified email
		return &DeniedError{Reason: "a requester never reviews their own grant",
			Hint: fmt.Sprintf("ask one of %s to review it", r.Approvers)}
	}
	if !r.approves(u, req) {
		return &DeniedError{Reason: fmt.Sprintf("%s is not an approver for %s, so may not review its grants", u.ID(), r.Name),
			Hint: fmt.Sprintf("reviewers are the role's approvers: %s", r.Approvers)}
	}
	if !req.ReviewRequired {
		return &ConflictError{Reason: fmt.Sprintf("request %s needs no review", req.ID),
			Hint: "only break-glass grants and roles with review: required are reviewed"}
	}
	if req.StartsAt.IsZero() {
		return &ConflictError{Reason: fmt.Sprintf("request %s is %s and was never granted", req.ID, req.State),
			Hint: fmt.Sprintf("see it with: jit show %s", req.ID)}
	}
	if req.Review != nil {
		return &ConflictError{Reason: fmt.Sprintf("request %s was already reviewed by %s (%s)", req.ID, req.Review.By, req.Review.Verdict),
			Hint: fmt.Sprintf("see the timeline with: jit review %s", req.ID)}
	}
	return nil
}
