package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// Explanation answers "who can approve X, would Y be auto-approved" for one
// user and role (jit server explain).
type Explanation struct {
	User  api.User
	Role  string
	Found bool // the role exists
	// Target is what the role grants: its kind and where (Role.Target).
	Target string
	// Eligible: the user may request the role.
	Eligible bool
	// AutoApproved: a request for the default duration is approved at once;
	// AutoApproveMax is the longest auto-approved request (0: none).
	AutoApproved   bool
	AutoApproveMax time.Duration
	// BreakGlass: the user may self-activate in an emergency, up to BreakGlassMax.
	BreakGlass    bool
	BreakGlassMax time.Duration
	// Approvers approve the role's requests, ApprovalsRequired of them.
	Approvers         Subjects
	ApprovalsRequired int
	// CanApprove: the user may approve others' requests for the role.
	CanApprove bool
	IsAdmin    bool
	// DefaultDuration, MaxDuration and MaxTotalDuration bound grants.
	DefaultDuration  time.Duration
	MaxDuration      time.Duration
	MaxTotalDuration time.Duration
	ReasonRequired   bool
	TicketPattern    string
	// Rule names the policy key that decides a request for the default
	// duration: roles[NAME].eligible, .auto_approve or .approvers.
	Rule string
}

// Explain explains what the policy lets u do with role.
func (p *Policy) Explain(u api.User, role string) Explanation {
	e := Explanation{User: u, Role: role, IsAdmin: p.IsAdmin(u)}
	r, ok := p.Role(role)
	if !ok {
		return e
	}
	e.Found = true
	e.Target = r.Target()
	e.Eligible = r.Eligible.Match(u)
	if e.Eligible && r.AutoApprove != nil && r.AutoApprove.Match(u) {
		e.AutoApproveMax = r.AutoApprove.MaxDuration
		e.AutoApproved = r.DefaultDuration <= e.AutoApproveMax
	}
	switch {
	case !e.Eligible:
		e.Rule = r.rule("eligible")
	case e.AutoApproved:
		e.Rule = r.rule("auto_approve")
	default:
		e.Rule = r.rule("approvers")
	}
	if r.mayBreakGlass(u) {
		e.BreakGlass, e.BreakGlassMax = true, r.BreakGlass.MaxDuration
	}
	e.Approvers, e.ApprovalsRequired = r.Approvers, r.ApprovalsRequired
	e.CanApprove = r.Approvers.Match(u)
	e.DefaultDuration, e.MaxDuration, e.MaxTotalDuration = r.DefaultDuration, r.MaxDuration, r.MaxTotalDuration
	e.ReasonRequired = r.ReasonRequired
	if r.TicketPattern != nil {
		e.TicketPattern = r.TicketPattern.String()
	}
	return e
}

// String renders the explanation as readable lines.
func (e Explanation) String() string {
	var b strings.Builder
	who := e.User.ID()
	if len(e.User.Groups) > 0 {
		who += " (groups " + strings.Join(e.User.Groups, ", ") + ")"
	}
	fmt.Fprintf(&b, "user:      %s\n", who)
	if !e.Found {
		fmt.Fprintf(&b, "role:      %s does not exist in the policy\n", e.Role)
		return b.String()
	}
	fmt.Fprintf(&b, "role:      %s\n", e.Role)
	fmt.Fprintf(&b, "grants:    %s\n", e.Target)
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(&b, "eligible:  %s\n", yes(e.Eligible))
	if e.Eligible {
		fmt.Fprintf(&b, "durations: default %s, max %s, max with extensions %s\n", api.FormatDuration(e.DefaultDuration), api.FormatDuration(e.MaxDuration), api.FormatDuration(e.MaxTotalDuration))
		var needs []string
		if e.ReasonRequired {
			needs = append(needs, "a reason")
		}
		if e.TicketPattern != "" {
			needs = append(needs, "a ticket matching "+e.TicketPattern)
		}
		if len(needs) > 0 {
			fmt.Fprintf(&b, "needs:     %s\n", strings.Join(needs, " and "))
		}
		switch {
		case e.AutoApproveMax == 0:
			fmt.Fprintf(&b, "approval:  %d of %s (never auto-approved)\n", e.ApprovalsRequired, e.Approvers)
		case e.AutoApproved:
			fmt.Fprintf(&b, "approval:  auto-approved up to %s; longer needs %d of %s\n", api.FormatDuration(e.AutoApproveMax), e.ApprovalsRequired, e.Approvers)
		default:
			fmt.Fprintf(&b, "approval:  auto-approved up to %s (the default %s is longer); else %d of %s\n", api.FormatDuration(e.AutoApproveMax), api.FormatDuration(e.DefaultDuration), e.ApprovalsRequired, e.Approvers)
		}
		if e.BreakGlass {
			fmt.Fprintf(&b, "break-glass: allowed up to %s (reason required; everyone notified)\n", api.FormatDuration(e.BreakGlassMax))
		} else {
			fmt.Fprintf(&b, "break-glass: no\n")
		}
	} else {
		fmt.Fprintf(&b, "approvers: %d of %s\n", e.ApprovalsRequired, e.Approvers)
	}
	if e.Approvers.ManagerOfRequester {
		fmt.Fprintf(&b, "manager:   the requester's manager approves too, as the server's managers: source names them when the request is made (never the requester, never a workload; roles[%s].approvers.manager_of_requester)\n", e.Role)
	}
	fmt.Fprintf(&b, "rule:      %s decides a request for the default duration\n", e.Rule)
	approve := yes(e.CanApprove)
	if e.CanApprove {
		approve += " (others' requests only: a requester never approves their own request)"
	} else if e.Approvers.ManagerOfRequester {
		approve += ", except the requests of people whose manager they are"
	}
	fmt.Fprintf(&b, "approves:  %s\n", approve)
	fmt.Fprintf(&b, "admin:     %s\n", yes(e.IsAdmin))
	return b.String()
}
