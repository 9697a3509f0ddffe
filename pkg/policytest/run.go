package policytest

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// Got is what the policy answered for a case.
type Got struct {
	Outcome   string
	Approvals int
	// Rule is the policy key that decided ("" when none is named).
	Rule string
	// Why is the decision's explanation or the refusal.
	Why string
	// Duration is the grant's length (its total with an extension).
	Duration time.Duration
}

// Result is one case's verdict.
type Result struct {
	Case Case
	Got  Got
	// Failures say what differs from the expectation; none means it passed.
	Failures []string
}

// Passed reports whether the policy answered as the case expects.
func (r Result) Passed() bool { return len(r.Failures) == 0 }

// Run evaluates every case of s against p.
func Run(p *policy.Policy, s *Suite) []Result {
	out := make([]Result, 0, len(s.Cases))
	for _, c := range s.Cases {
		out = append(out, runCase(p, c))
	}
	return out
}

// caseTime is the fixed instant cases are evaluated at: the policy is pure,
// only the grant's bounds need a time.
var caseTime = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func runCase(p *policy.Policy, c Case) Result {
	u := c.Principal.APIUser()
	in := api.CreateRequest{Role: c.Role, DurationSeconds: int64(c.Duration.D() / time.Second), Reason: c.Reason,
		Ticket: c.Ticket, BreakGlass: c.BreakGlass}
	out, d, err := p.CheckRequest(u, in)
	var manager policy.ManagerOutcome
	if err == nil && out.ApprovalsNeeded > 0 && p.NeedsManager(c.Role) {
		// What the server's manager source would have answered: the case's.
		manager = policy.ManagerAnswer(u, "test case", c.Principal.Manager, nil)
		out, err = p.WithManager(out, c.Role, manager)
	}
	var got Got
	var req *api.Request
	switch {
	case err != nil:
		got = Got{Outcome: OutcomeRefused, Rule: policy.RuleOf(err), Why: err.Error()}
	default:
		got = Got{Rule: out.Rule, Why: out.Why, Duration: d}
		switch {
		case out.BreakGlass:
			got.Outcome = OutcomeBreakGlass
		case out.AutoApproved:
			got.Outcome = OutcomeAutoApproved
		default:
			got.Outcome, got.Approvals = OutcomeNeedsApproval, out.ApprovalsNeeded
		}
		req = &api.Request{ID: "test", Requester: u.ID(), Role: c.Role, DurationSeconds: int64(d / time.Second),
			State: api.StatePending, BreakGlass: out.BreakGlass, AutoApproved: out.AutoApproved,
			ApprovalsNeeded: out.ApprovalsNeeded, CreatedAt: caseTime,
			RequesterIssuer: u.Issuer, RequesterSubject: u.Subject, RequesterEmail: u.Email, Manager: manager.Manager}
	}
	// mayApprove says whether a principal may approve what waits.
	var mayApprove func(api.User) error
	if req != nil {
		mayApprove = func(a api.User) error { return p.CanApprove(a, req) }
	}
	if c.Extend != nil && req != nil {
		got = extend(p, u, req, c.Extend)
		mayApprove = func(a api.User) error { return p.CanDecideExtension(a, req) }
	}
	return Result{Case: c, Got: got, Failures: compare(c, got, mayApprove)}
}

// extend grants req (as approvers would) and asks the policy about
// extending it.
func extend(p *policy.Policy, u api.User, req *api.Request, x *ExtendSpec) Got {
	req.State, req.StartsAt = api.StateActive, caseTime
	req.EndsAt = caseTime.Add(req.Duration())
	req.Extensions = x.Used
	by := x.By.D()
	if err := p.CheckExtend(u, req, by); err != nil {
		return Got{Outcome: OutcomeRefused, Rule: policy.RuleOf(err), Why: err.Error()}
	}
	total := req.Duration() + by
	if n := p.ExtensionDecision(u, req, by); n.ApprovalsNeeded > 0 {
		req.PendingExtension = &api.Extension{DurationSeconds: int64(by / time.Second), RequestedAt: caseTime,
			ApprovalsNeeded: n.ApprovalsNeeded, Why: n.Why}
		return Got{Outcome: OutcomeNeedsApproval, Approvals: n.ApprovalsNeeded, Rule: n.Rule, Why: n.Why, Duration: total}
	}
	return Got{Outcome: OutcomeExtends, Rule: "roles[" + req.Role + "].max_extensions",
		Why:      fmt.Sprintf("the requester extends alone to %s in total (extension %d of the role's max_extensions)", api.FormatDuration(total), x.Used+1),
		Duration: total}
}

// compare lists how got differs from what c expects; mayApprove checks a
// principal against what waits for approval.
func compare(c Case, got Got, mayApprove func(api.User) error) []string {
	e := c.Expect
	var fails []string
	if got.Outcome != e.Outcome {
		fails = append(fails, fmt.Sprintf("outcome is %s, want %s", got.Outcome, e.Outcome))
	}
	if e.Approvals != 0 && got.Approvals != e.Approvals {
		fails = append(fails, fmt.Sprintf("needs %d approval(s), want %d", got.Approvals, e.Approvals))
	}
	if e.Rule != "" && got.Rule != e.Rule {
		fails = append(fails, fmt.Sprintf("decided by %s, want %s", orNone(got.Rule), e.Rule))
	}
	if e.Why != "" && !strings.Contains(got.Why, e.Why) {
		fails = append(fails, fmt.Sprintf("the explanation does not contain %q", e.Why))
	}
	if e.Duration != 0 && got.Duration != e.Duration.D() {
		fails = append(fails, fmt.Sprintf("grant of %s, want %s", api.FormatDuration(got.Duration), api.FormatDuration(e.Duration.D())))
	}
	if got.Outcome != OutcomeNeedsApproval || mayApprove == nil {
		return fails
	}
	for _, a := range e.MayApprove {
		if err := mayApprove(a.APIUser()); err != nil {
			fails = append(fails, fmt.Sprintf("%s may not approve: %v", a.APIUser().ID(), err))
		}
	}
	for _, a := range e.MayNotApprove {
		if mayApprove(a.APIUser()) == nil {
			fails = append(fails, fmt.Sprintf("%s may approve, want not", a.APIUser().ID()))
		}
	}
	return fails
}

func orNone(rule string) string {
	if rule == "" {
		return "no named rule"
	}
	return rule
}
