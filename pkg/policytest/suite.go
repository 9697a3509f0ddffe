// Package policytest runs policy tests written as code (jit server
// test-policy): a YAML file of cases — a principal with groups, a role, a
// duration, break-glass, an extension — each with the outcome the policy must
// give (auto-approved, break-glass, approvers needed and who may approve,
// refused with a reason). It reads the cases strictly (file:line errors),
// evaluates them with pkg/policy and reports one line per case or JUnit XML.
// It is pure: no clock, no network.
package policytest

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/yamldoc"
)

// Outcomes a case may expect.
const (
	// OutcomeAutoApproved: granted at once by auto_approve.
	OutcomeAutoApproved = "auto_approved"
	// OutcomeBreakGlass: self-activated, flagged for review.
	OutcomeBreakGlass = "break_glass"
	// OutcomeNeedsApproval: waits for approvers (a request or an extension).
	OutcomeNeedsApproval = "needs_approval"
	// OutcomeExtends: the requester extends the grant alone.
	OutcomeExtends = "extends"
	// OutcomeRefused: the policy refuses (not eligible, too long, no reason …).
	OutcomeRefused = "refused"
)

var requestOutcomes = []string{OutcomeAutoApproved, OutcomeBreakGlass, OutcomeNeedsApproval, OutcomeRefused}
var extendOutcomes = []string{OutcomeExtends, OutcomeNeedsApproval, OutcomeRefused}

// File is a tests file as written.
type File struct {
	// Cases are run in order.
	Cases []CaseSpec `yaml:"cases"`
}

// Principal is a person as their token would show them to the server.
type Principal struct {
	// User is the verified username policy users: entries match (the
	// verified email, or oidc.username_claim's value).
	User string `yaml:"user"`
	// Subject and Issuer tell people apart [subject: user; issuer: test].
	Subject string `yaml:"subject"`
	Issuer  string `yaml:"issuer"`
	// Groups is the token's groups claim.
	Groups []string `yaml:"groups"`
	// Manager is who the server's manager source (managers:) names as this
	// requester's manager: their username or email. It matters for roles
	// whose approvers include manager_of_requester; unset there, the case
	// is a requester with no manager on record.
	Manager string `yaml:"manager"`
}

// CaseSpec is one case: who asks for what, and what must happen.
type CaseSpec struct {
	// Name says what the case pins; it is the test's name in the output.
	Name      string    `yaml:"name"`
	Principal Principal `yaml:"principal"`
	Role      string    `yaml:"role"`
	// Duration asked for [the role's default].
	Duration   yamldoc.Duration `yaml:"duration"`
	Reason     string           `yaml:"reason"`
	Ticket     string           `yaml:"ticket"`
	BreakGlass bool             `yaml:"break_glass"`
	// Extend, when set, extends the grant the request got (once approved,
	// by approvers if it needed them); the case's outcome is the extension's.
	Extend *ExtendSpec `yaml:"extend"`
	Expect Expect      `yaml:"expect"`
}

// ExtendSpec is an extension of the case's grant.
type ExtendSpec struct {
	By yamldoc.Duration `yaml:"by"`
	// Used is how many extensions the grant already had [0].
	Used int `yaml:"used"`
}

// Expect is what the policy must answer.
type Expect struct {
	// Outcome: auto_approved, break_glass, needs_approval or refused (for an
	// extension: extends, needs_approval or refused).
	Outcome string `yaml:"outcome"`
	// Approvals is how many approvals are needed (needs_approval only).
	Approvals int `yaml:"approvals"`
	// MayApprove and MayNotApprove are checked against the waiting request
	// (needs_approval only): each may, or may not, approve it.
	MayApprove    []Principal `yaml:"may_approve"`
	MayNotApprove []Principal `yaml:"may_not_approve"`
	// Why is a substring of the decision's explanation or the refusal.
	Why string `yaml:"why"`
	// Rule is the policy key that must decide, "roles[admin].approvers".
	Rule string `yaml:"rule"`
	// Duration is the grant's length (granted outcomes only).
	Duration yamldoc.Duration `yaml:"duration"`
}

// Suite is a validated tests file.
type Suite struct {
	Name  string
	Cases []Case
}

// Case is a validated case with where it is written.
type Case struct {
	CaseSpec
	// At is "file:line" of the case, for people and CI annotations.
	At string
}

// Load reads and validates a tests file.
func Load(path string) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy tests: %w", err)
	}
	return Parse(path, data)
}

// Parse validates a tests file's contents; name is used in errors. Every
// problem is reported at once, each with file:line:column.
func Parse(name string, data []byte) (*Suite, error) {
	doc, err := yamldoc.Parse(name, data)
	if err != nil {
		return nil, err
	}
	var f File
	errs := []error{doc.Decode("", &f)}
	if len(f.Cases) == 0 && !doc.Broken("cases") {
		errs = append(errs, doc.Errorf("cases", "no cases; add at least one under cases: (see docs/policy.md#policy-tests)"))
	}
	s := &Suite{Name: name}
	seen := map[string]bool{}
	for i, c := range f.Cases {
		path := fmt.Sprintf("cases[%d]", i)
		errs = append(errs, checkCase(doc, path, c)...)
		if seen[c.Name] && c.Name != "" {
			errs = append(errs, doc.Errorf(path+".name", "case %q is defined twice; names are unique", c.Name))
		}
		seen[c.Name] = true
		pos := doc.Errorf(path, "")
		s.Cases = append(s.Cases, Case{CaseSpec: c, At: fmt.Sprintf("%s:%d", pos.File, pos.Line)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, yamldoc.SortErrors(err)
	}
	return s, nil
}

func checkCase(doc *yamldoc.Doc, path string, c CaseSpec) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		if !doc.Broken(path + "." + key) {
			errs = append(errs, doc.Errorf(path+"."+key, format, args...))
		}
	}
	if strings.TrimSpace(c.Name) == "" {
		bad("name", "name is required: say what the case pins (\"developers get readonly at once\")")
	}
	errs = append(errs, checkPrincipal(doc, path+".principal", c.Principal)...)
	if c.Role == "" {
		bad("role", "role is required")
	}
	if c.Duration < 0 {
		bad("duration", "is negative")
	}
	allowed := requestOutcomes
	if c.Extend != nil {
		allowed = extendOutcomes
		if c.Extend.By <= 0 {
			bad("extend.by", "is required and positive (for example 30m)")
		}
		if c.Extend.Used < 0 {
			bad("extend.used", "is negative")
		}
	}
	e := c.Expect
	switch {
	case e.Outcome == "":
		bad("expect.outcome", "is required: one of %s", strings.Join(allowed, ", "))
	case !slices.Contains(allowed, e.Outcome):
		bad("expect.outcome", "%q is not an outcome here; use one of %s", e.Outcome, strings.Join(allowed, ", "))
	}
	waits := e.Outcome == OutcomeNeedsApproval
	if !waits && (e.Approvals != 0 || len(e.MayApprove) > 0 || len(e.MayNotApprove) > 0) {
		bad("expect", "approvals, may_approve and may_not_approve apply only to outcome needs_approval")
	}
	if e.Approvals < 0 {
		bad("expect.approvals", "is negative")
	}
	if e.Duration != 0 && e.Outcome == OutcomeRefused {
		bad("expect.duration", "applies only to a grant, not to outcome refused")
	}
	for i, p := range e.MayApprove {
		errs = append(errs, checkPrincipal(doc, fmt.Sprintf("%s.expect.may_approve[%d]", path, i), p)...)
	}
	for i, p := range e.MayNotApprove {
		errs = append(errs, checkPrincipal(doc, fmt.Sprintf("%s.expect.may_not_approve[%d]", path, i), p)...)
	}
	return errs
}

func checkPrincipal(doc *yamldoc.Doc, path string, p Principal) []error {
	if doc.Broken(path) {
		return nil
	}
	var errs []error
	if p.User == "" && p.Subject == "" {
		errs = append(errs, doc.Errorf(path, "a principal needs user: (the verified username or email) or subject:"))
	}
	if p.User != strings.TrimSpace(p.User) {
		errs = append(errs, doc.Errorf(path+".user", "%q has spaces around it", p.User))
	}
	if p.Manager != strings.TrimSpace(p.Manager) {
		errs = append(errs, doc.Errorf(path+".manager", "%q has spaces around it", p.Manager))
	}
	for i, g := range p.Groups {
		if g == "" || g != strings.TrimSpace(g) {
			errs = append(errs, doc.Errorf(fmt.Sprintf("%s.groups[%d]", path, i), "%q is not a group name (no spaces around it)", g))
		}
	}
	return errs
}

// testIssuer is the issuer of principals that name none.
const testIssuer = "test"

// APIUser is the principal as the server would have verified it: user is the
// verified username, and the email when it looks like one.
func (p Principal) APIUser() api.User {
	u := api.User{Issuer: p.Issuer, Subject: p.Subject, Username: p.User, Groups: p.Groups}
	if u.Issuer == "" {
		u.Issuer = testIssuer
	}
	if u.Subject == "" {
		u.Subject = p.User
	}
	if strings.Contains(p.User, "@") {
		u.Email = p.User
	}
	return u
}
