package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/yamldoc"
)

// File is the shape of a policy file; the server config may hold the same
// two keys inline.
type File struct {
	// Admins may view, cancel and revoke any request.
	Admins *Subjects `yaml:"admins"`
	// Roles are the requestable roles.
	Roles []RoleSpec `yaml:"roles"`
	// Issuers are the issuers the server trusts (from the server config,
	// not the policy file): workloads: subjects must name one of kind
	// workload. Nil: no workload issuer, so any workloads: is refused.
	Issuers []Issuer `yaml:"-"`
}

// RoleSpec is one role as written in YAML. Defaults are in brackets.
type RoleSpec struct {
	// Name is unique, [a-z0-9][a-z0-9-_.]*; it is what users type.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Kind is the kind of access the role grants [aws_role]: aws_role is
	// an IAM role assumed with STS (arn, account, region, session
	// settings below); ldap_group is membership of a directory group
	// (ldap below, and the server's ldap: connection).
	Kind string `yaml:"kind"`
	// LDAP is an ldap_group role's group and member lookup.
	LDAP *LDAPGroupSpec `yaml:"ldap"`
	// Account is the 12-digit AWS account id; quote it. Optional: taken
	// from the ARN when empty, must match it when set.
	Account string `yaml:"account"`
	// ARN is the IAM role: arn:aws:iam::123456789012:role/path/name.
	ARN    string `yaml:"arn"`
	Region string `yaml:"region"`
	// MaxSessionDuration is the IAM role's MaxSessionDuration [1h] (1h..12h).
	MaxSessionDuration yamldoc.Duration `yaml:"max_session_duration"`
	// SessionPolicy is an optional JSON policy document scoping sessions down.
	SessionPolicy string `yaml:"session_policy"`
	// Eligible may request the role.
	Eligible Subjects `yaml:"eligible"`
	// DefaultDuration is used when a request names none [max_duration, at most 1h].
	DefaultDuration yamldoc.Duration `yaml:"default_duration"`
	// MaxDuration is the longest grant [1h] (at most 12h).
	MaxDuration yamldoc.Duration `yaml:"max_duration"`
	// ReasonRequired makes --reason mandatory [false].
	ReasonRequired bool `yaml:"reason_required"`
	// TicketPattern, when set, makes a ticket mandatory; a Go regexp.
	TicketPattern string `yaml:"ticket_pattern"`
	// Approvers may approve or deny requests.
	Approvers Subjects `yaml:"approvers"`
	// ApprovalsRequired distinct approvers must approve [1].
	ApprovalsRequired *int `yaml:"approvals_required"`
	// AutoApprove approves these users' requests at once up to its max_duration.
	AutoApprove *AutoApproveSpec `yaml:"auto_approve"`
	// BreakGlass allows self-activation in an emergency.
	BreakGlass *BreakGlassSpec `yaml:"break_glass"`
	// Agents says whether AI agents (jit mcp) may request the role for a
	// user, and whether their requests always wait for a person.
	Agents *AgentsSpec `yaml:"agents"`
	// PendingTimeout times out unanswered requests [1h].
	PendingTimeout yamldoc.Duration `yaml:"pending_timeout"`
	// MaxExtensions is how often a grant may be extended [0].
	MaxExtensions int `yaml:"max_extensions"`
	// MaxTotalDuration caps a grant with its extensions [max_duration].
	MaxTotalDuration yamldoc.Duration `yaml:"max_total_duration"`
	// SlackChannel gets this role's notifications (optional).
	SlackChannel string `yaml:"slack_channel"`
	// IdleTimeout revokes a grant with no activity for this long, counted
	// from its start or its last call (optional; 1m..12h).
	IdleTimeout yamldoc.Duration `yaml:"idle_timeout"`
	// Review: required asks an approver to review every grant afterwards
	// (break-glass grants are always reviewed).
	Review string `yaml:"review"`
}

// LDAPGroupSpec is an ldap_group role's ldap block.
type LDAPGroupSpec struct {
	// Group is the group's DN: cn=prod-admins,ou=groups,dc=example,dc=org.
	Group string `yaml:"group"`
	// MemberDN is the requester's DN, {user} standing for their verified
	// name: uid={user},ou=people,dc=example,dc=org.
	MemberDN string `yaml:"member_dn"`
	// MemberSearch finds the requester's entry instead of member_dn.
	MemberSearch *LDAPSearchSpec `yaml:"member_search"`
}

// LDAPSearchSpec finds one entry: a subtree search of Base with Filter,
// {user} standing for the requester's verified name.
type LDAPSearchSpec struct {
	Base   string `yaml:"base"`
	Filter string `yaml:"filter"`
}

// AutoApproveSpec is a role's auto_approve block.
type AutoApproveSpec struct {
	Users     []string          `yaml:"users"`
	Groups    []string          `yaml:"groups"`
	Workloads []WorkloadSubject `yaml:"workloads"`
	// MaxDuration is the longest auto-approved grant [the role's max_duration].
	MaxDuration yamldoc.Duration `yaml:"max_duration"`
}

// BreakGlassSpec is a role's break_glass block.
type BreakGlassSpec struct {
	// Allowed must be true for break-glass to be possible.
	Allowed bool `yaml:"allowed"`
	// Users and Groups may break glass (they must also be eligible); empty
	// means every eligible user.
	Users  []string `yaml:"users"`
	Groups []string `yaml:"groups"`
	// MaxDuration is the longest break-glass grant [the role's max_duration].
	MaxDuration yamldoc.Duration `yaml:"max_duration"`
}

// Load reads and validates a policy file (keys admins: and roles:).
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse validates a policy file's contents; name is used in errors.
func Parse(name string, data []byte) (*Policy, error) {
	return ParseWithIssuers(name, data, nil)
}

// ParseWithIssuers is Parse for a server that trusts issuers (the server
// config's oidc: and issuers:), which workloads: subjects name.
func ParseWithIssuers(name string, data []byte, issuers []Issuer) (*Policy, error) {
	doc, err := yamldoc.Parse(name, data)
	if err != nil {
		return nil, err
	}
	f := File{Issuers: issuers}
	// Decoding reports every problem it finds and fills in the rest, so
	// validation goes on and all problems are reported in one run.
	decodeErr := doc.Decode("", &f)
	p, err := FromDoc(doc, f)
	if decodeErr != nil {
		return nil, yamldoc.SortErrors(errors.Join(decodeErr, err))
	}
	return p, err
}

// FromDoc validates f, decoded from doc (used for positions in errors). The
// server config calls it with the roles: and admins: it holds inline. All
// problems are reported at once, joined.
func FromDoc(doc *yamldoc.Doc, f File) (*Policy, error) {
	v := validator{doc: doc, issuers: map[string]Issuer{}}
	for _, iss := range f.Issuers {
		v.issuers[iss.Name] = iss
	}
	p := &Policy{byName: map[string]*Role{}}
	if f.Admins != nil {
		p.Admins = *f.Admins
		v.subjects("admins", p.Admins)
		v.noWorkloads("admins", p.Admins, "administer jit")
		v.approversOnly("admins", p.Admins)
	}
	if len(f.Roles) == 0 {
		v.errorf("roles", "no roles are defined; add at least one under roles:")
	}
	for i := range f.Roles {
		r := v.role(fmt.Sprintf("roles[%d]", i), &f.Roles[i])
		if r == nil {
			continue
		}
		if _, dup := p.byName[r.Name]; dup {
			v.errorf(fmt.Sprintf("roles[%d].name", i), "role %q is defined twice; names are unique", r.Name)
			continue
		}
		p.byName[r.Name] = r
		p.Roles = append(p.Roles, r)
	}
	if len(v.errs) > 0 {
		return nil, yamldoc.SortErrors(errors.Join(v.errs...))
	}
	p.Warnings = v.warnings
	return p, nil
}

// patterns are compiled on first use, not at init: every jit start would
// pay for them, credential-process included.
type patterns struct {
	roleName, roleARN, account, region, slackChan *regexp.Regexp
}

var compiled = sync.OnceValue(func() patterns {
	return patterns{
		roleName: regexp.MustCompile(`^[a-z0-9][a-z0-9\-_.]*$`),
		// roleARN matches IAM role ARNs in every partition.
		roleARN:   regexp.MustCompile(`^arn:aws(?:-[a-z]+)*:iam::([0-9]{12}):role/(?:[\x21-\x7e]+/)?[\w+=,.@-]{1,64}$`),
		account:   regexp.MustCompile(`^[0-9]{12}$`),
		region:    regexp.MustCompile(`^[a-z]{2}(?:-[a-z]+)+-[0-9]+$`),
		slackChan: regexp.MustCompile(`^(#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{6,})$`),
	}
})

type validator struct {
	doc      *yamldoc.Doc
	errs     []error
	warnings []string
	issuers  map[string]Issuer // by name
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.doc.Broken(path) {
		return // already reported by Decode
	}
	v.errs = append(v.errs, v.doc.Errorf(path, format, args...))
}

func (v *validator) warnf(path, format string, args ...any) {
	v.warnings = append(v.warnings, v.doc.Errorf(path, format, args...).Error())
}

func (v *validator) subjects(path string, s Subjects) {
	for i, u := range s.Users {
		if strings.TrimSpace(u) == "" || u != strings.TrimSpace(u) {
			v.errorf(fmt.Sprintf("%s.users[%d]", path, i), "%q is not a user (an email or IdP subject, without spaces around it)", u)
		}
	}
	for i, g := range s.Groups {
		if strings.TrimSpace(g) == "" || g != strings.TrimSpace(g) {
			v.errorf(fmt.Sprintf("%s.groups[%d]", path, i), "%q is not a group name (no spaces around it)", g)
		}
	}
	v.workloadSubjects(path, s.Workloads)
}

func (v *validator) role(path string, s *RoleSpec) *Role {
	n := len(v.errs)
	at := func(key string) string { return path + "." + key }
	r := &Role{
		Name:        s.Name,
		Description: s.Description,
		TargetSpec: TargetSpec{Kind: s.Kind, Account: s.Account, ARN: s.ARN, Region: s.Region,
			MaxSessionDuration: s.MaxSessionDuration.D(), SessionPolicy: s.SessionPolicy},
		Eligible:          s.Eligible,
		DefaultDuration:   s.DefaultDuration.D(),
		MaxDuration:       s.MaxDuration.D(),
		ReasonRequired:    s.ReasonRequired,
		Approvers:         s.Approvers,
		ApprovalsRequired: 1,
		PendingTimeout:    s.PendingTimeout.D(),
		MaxExtensions:     s.MaxExtensions,
		MaxTotalDuration:  s.MaxTotalDuration.D(),
		SlackChannel:      s.SlackChannel,
		IdleTimeout:       s.IdleTimeout.D(),
		ReviewRequired:    s.Review == "required",
		Agents:            agentRule(s.Agents),
	}
	switch {
	case s.Name == "":
		v.errorf(at("name"), "name is required (lowercase letters, digits, - _ .)")
	case !compiled().roleName.MatchString(s.Name) || len(s.Name) > 64:
		v.errorf(at("name"), "%q is not a role name (lowercase letters, digits, - _ . ; starting with a letter or digit; at most 64)", s.Name)
	}
	switch s.Kind {
	case "":
		r.Kind = KindAWSRole
		v.roleTarget(at, s, r)
	case KindAWSRole:
		v.roleTarget(at, s, r)
	case KindLDAPGroup:
		v.roleLDAP(at, s, r)
	default:
		v.errorf(at("kind"), "%q is not a kind of access jit knows; known kinds: %s", s.Kind, strings.Join(Kinds(), ", "))
	}
	v.roleDurations(at, s, r)
	v.roleRequesters(at, s, r)
	v.roleFastPaths(at, s, r)
	v.roleApprovers(at, s, r)
	if len(v.errs) > n {
		return nil
	}
	return r
}

// roleTarget checks a role's AWS target: ARN, account, region, session length and session policy.
func (v *validator) roleTarget(at func(string) string, s *RoleSpec, r *Role) {
	if s.LDAP != nil {
		v.errorf(at("ldap"), "ldap: is for kind: ldap_group; this role is an aws_role (set kind: ldap_group, or remove ldap:)")
	}
	switch m := compiled().roleARN.FindStringSubmatch(s.ARN); {
	case s.ARN == "":
		v.errorf(at("arn"), "arn is required (arn:aws:iam::123456789012:role/name)")
	case m == nil:
		v.errorf(at("arn"), "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", s.ARN)
	case s.Account == "":
		r.Account = m[1]
	case !compiled().account.MatchString(s.Account):
		v.errorf(at("account"), "%q is not a 12-digit AWS account id (quote it: \"012345678901\")", s.Account)
	case s.Account != m[1]:
		v.errorf(at("account"), "account %s does not match the ARN's account %s", s.Account, m[1])
	}
	if s.Region != "" && !compiled().region.MatchString(s.Region) {
		v.errorf(at("region"), "%q is not an AWS region (us-east-1, eu-west-1)", s.Region)
	}
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = DefaultMaxSessionDuration
	} else if r.MaxSessionDuration < time.Hour || r.MaxSessionDuration > MaxGrant {
		v.errorf(at("max_session_duration"), "%s is outside IAM's range (1h to 12h); use the role's MaxSessionDuration", api.FormatDuration(r.MaxSessionDuration))
	}
	if s.SessionPolicy != "" {
		var doc map[string]any
		if err := json.Unmarshal([]byte(s.SessionPolicy), &doc); err != nil {
			v.errorf(at("session_policy"), "is not a JSON policy document: %v", err)
		} else if _, ok := doc["Statement"]; !ok {
			v.errorf(at("session_policy"), "the JSON policy document has no \"Statement\"")
		} else if !sessionPolicyAllows(doc["Statement"]) {
			// AWS gives the session the intersection of the role's policies
			// and the session policy: without an Allow it could do nothing.
			v.errorf(at("session_policy"), "has no Allow statement, so sessions could do nothing (AWS grants the intersection of the role's policies and the session policy); "+
				`add {"Effect": "Allow", "Action": "*", "Resource": "*"} to keep what the role allows`)
		}
	}
}

// roleDurations checks a role's durations and fills in their defaults.
func (v *validator) roleDurations(at func(string) string, s *RoleSpec, r *Role) {
	if r.MaxDuration == 0 {
		r.MaxDuration = time.Hour
	}
	if r.MaxDuration > MaxGrant {
		v.errorf(at("max_duration"), "%s is over 12h, the longest grant jit allows", api.FormatDuration(r.MaxDuration))
	}
	if r.MaxDuration < time.Minute {
		v.errorf(at("max_duration"), "%s is too short; use at least 1m", api.FormatDuration(r.MaxDuration))
	}
	if r.DefaultDuration == 0 {
		r.DefaultDuration = min(r.MaxDuration, time.Hour)
	} else if r.DefaultDuration > r.MaxDuration {
		v.errorf(at("default_duration"), "%s is over max_duration %s; lower it or raise max_duration", api.FormatDuration(r.DefaultDuration), api.FormatDuration(r.MaxDuration))
	}
	if r.PendingTimeout == 0 {
		r.PendingTimeout = DefaultPendingTimeout
	} else if r.PendingTimeout < time.Minute || r.PendingTimeout > 7*24*time.Hour {
		v.errorf(at("pending_timeout"), "%s is outside 1m to 168h", api.FormatDuration(r.PendingTimeout))
	}
	if s.MaxExtensions < 0 {
		v.errorf(at("max_extensions"), "%d is negative; use 0 for no extensions", s.MaxExtensions)
	}
	if r.MaxTotalDuration == 0 {
		r.MaxTotalDuration = r.MaxDuration
	} else if r.MaxTotalDuration < r.MaxDuration {
		v.errorf(at("max_total_duration"), "%s is under max_duration %s; it caps a grant including extensions", api.FormatDuration(r.MaxTotalDuration), api.FormatDuration(r.MaxDuration))
	} else if r.MaxTotalDuration > 7*24*time.Hour {
		v.errorf(at("max_total_duration"), "%s is over 168h", api.FormatDuration(r.MaxTotalDuration))
	}
	if s.MaxExtensions > 0 && r.MaxTotalDuration == r.MaxDuration {
		v.warnf(at("max_extensions"), "extensions are allowed but max_total_duration equals max_duration, so a full-length grant cannot be extended; set max_total_duration")
	}
}

// roleRequesters checks a role's requesters: who is eligible, tickets, Slack channel, idle end and review.
func (v *validator) roleRequesters(at func(string) string, s *RoleSpec, r *Role) {
	v.subjects(at("eligible"), s.Eligible)
	v.approversOnly(at("eligible"), s.Eligible)
	if s.Eligible.Empty() {
		v.errorf(at("eligible"), "nobody is eligible; list groups or users under eligible:")
	}
	if s.TicketPattern != "" {
		re, err := regexp.Compile(s.TicketPattern)
		if err != nil {
			v.errorf(at("ticket_pattern"), "%q is not a regular expression: %v", s.TicketPattern, err)
		}
		r.TicketPattern = re
	}
	if s.SlackChannel != "" && !compiled().slackChan.MatchString(s.SlackChannel) {
		v.errorf(at("slack_channel"), "%q is not a Slack channel (\"#name\" or an id such as C0123ABCD)", s.SlackChannel)
	}

	if r.IdleTimeout != 0 && (r.IdleTimeout < time.Minute || r.IdleTimeout > MaxGrant) {
		v.errorf(at("idle_timeout"), "%s is outside 1m to 12h", api.FormatDuration(r.IdleTimeout))
	}
	switch s.Review {
	case "", "required", "none":
	default:
		v.errorf(at("review"), "%q is not a review setting; use required or none", s.Review)
	}
}

// roleFastPaths checks a role's fast paths: auto-approve and break-glass.
func (v *validator) roleFastPaths(at func(string) string, s *RoleSpec, r *Role) {
	if s.AutoApprove != nil {
		a := &AutoApprove{Subjects: Subjects{Users: s.AutoApprove.Users, Groups: s.AutoApprove.Groups, Workloads: s.AutoApprove.Workloads}, MaxDuration: s.AutoApprove.MaxDuration.D()}
		v.subjects(at("auto_approve"), a.Subjects)
		if a.Empty() {
			v.errorf(at("auto_approve"), "lists nobody; add groups or users, or remove auto_approve")
		}
		if a.MaxDuration == 0 {
			a.MaxDuration = r.MaxDuration
		} else if a.MaxDuration > r.MaxDuration {
			v.errorf(at("auto_approve.max_duration"), "%s is over the role's max_duration %s", api.FormatDuration(a.MaxDuration), api.FormatDuration(r.MaxDuration))
		}
		r.AutoApprove = a
	}
	if s.BreakGlass != nil && s.BreakGlass.Allowed {
		b := &BreakGlass{Subjects: Subjects{Users: s.BreakGlass.Users, Groups: s.BreakGlass.Groups}, MaxDuration: s.BreakGlass.MaxDuration.D()}
		v.subjects(at("break_glass"), b.Subjects)
		if b.MaxDuration == 0 {
			b.MaxDuration = r.MaxDuration
		} else if b.MaxDuration > MaxGrant {
			v.errorf(at("break_glass.max_duration"), "%s is over 12h, the longest grant jit allows", api.FormatDuration(b.MaxDuration))
		}
		r.BreakGlass = b
	}
}

// roleApprovers checks a role's approvers and how many approvals it needs.
func (v *validator) roleApprovers(at func(string) string, s *RoleSpec, r *Role) {
	v.subjects(at("approvers"), s.Approvers)
	v.noWorkloads(at("approvers"), s.Approvers, "approve, deny or review")
	if s.ApprovalsRequired != nil {
		r.ApprovalsRequired = *s.ApprovalsRequired
		if r.ApprovalsRequired < 1 || r.ApprovalsRequired > 10 {
			v.errorf(at("approvals_required"), "%d is outside 1 to 10; for no approvals use auto_approve", r.ApprovalsRequired)
		}
	}
	alwaysAuto := r.AutoApprove != nil && r.AutoApprove.MaxDuration >= r.MaxDuration && covers(r.AutoApprove.Subjects, r.Eligible)
	// The requester's manager is one more person, never the requester.
	listed := len(s.Approvers.Users)
	if s.Approvers.ManagerOfRequester {
		listed++
	}
	switch {
	case alwaysAuto:
	case s.Approvers.Empty():
		v.errorf(at("approvers"), "nobody can approve %s; list groups or users under approvers: (or auto-approve every eligible user)", s.Name)
	case len(s.Approvers.Groups) == 0 && listed < r.ApprovalsRequired:
		v.errorf(at("approvers"), "%d approver(s) listed but approvals_required is %d; list more approvers or lower approvals_required", listed, r.ApprovalsRequired)
	case len(s.Approvers.Groups) == 0 && !s.Approvers.ManagerOfRequester && listed < r.ApprovalsRequired+1:
		v.warnf(at("approvers"), "only %d approver(s) for approvals_required %d; a requester never approves their own request, so an approver's own requests cannot be approved; list at least %d", len(s.Approvers.Users), r.ApprovalsRequired, r.ApprovalsRequired+1)
	}
}

// approversOnly refuses the keys that name approvers of one request (the
// requester's manager) where no request is at hand: eligible:, admins:.
func (v *validator) approversOnly(path string, s Subjects) {
	if s.ManagerOfRequester {
		v.errorf(path+".manager_of_requester", "manager_of_requester names who may approve a request; it belongs under approvers: only")
	}
}

// covers reports whether every member of b is certainly in a.
func covers(a, b Subjects) bool {
	for _, g := range b.Groups {
		if !containsFold(a.Groups, g, false) {
			return false
		}
	}
	for _, u := range b.Users {
		if !containsFold(a.Users, u, true) {
			return false
		}
	}
	for _, w := range b.Workloads {
		if !slices.ContainsFunc(a.Workloads, func(x WorkloadSubject) bool { return x.String() == w.String() }) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string, fold bool) bool {
	for _, x := range list {
		if x == s || fold && api.SameName(x, s) {
			return true
		}
	}
	return false
}

// sessionPolicyAllows reports whether a session policy's Statement (one
// statement or a list) has an Allow.
func sessionPolicyAllows(stmt any) bool {
	list, ok := stmt.([]any)
	if !ok {
		list = []any{stmt}
	}
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			if e, _ := m["Effect"].(string); strings.EqualFold(e, "Allow") {
				return true
			}
		}
	}
	return false
}
