package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// Outcome is what the policy decided for a new request.
type Outcome struct {
	// AutoApproved: approved at once by an auto_approve rule.
	AutoApproved bool
	// BreakGlass: self-activated in an emergency; notify everyone, review later.
	BreakGlass bool
	// ApprovalsNeeded is how many distinct approvers must approve (0 when
	// approved at once).
	ApprovalsNeeded int
	// Why explains the decision in one line for logs, audit and explain.
	Why string
	// Rule names the policy key that decided: "roles[NAME].auto_approve",
	// "roles[NAME].break_glass" or "roles[NAME].approvers".
	Rule string
}

// rule names a key of role r as the policy file spells it.
func (r *Role) rule(key string) string { return "roles[" + r.Name + "]." + key }

// Approved reports whether the request is granted at once.
func (o Outcome) Approved() bool { return o.AutoApproved || o.BreakGlass }

// CheckRequest validates a new request by u and decides its fate. It returns
// the normalised duration (the role's default when none was asked for).
// Errors are *DeniedError (u may not) or *InvalidError (fix the request).
func (p *Policy) CheckRequest(u api.User, in api.CreateRequest) (Outcome, time.Duration, error) {
	r, ok := p.Role(in.Role)
	if !ok {
		return Outcome{}, 0, &InvalidError{Field: "role", Reason: fmt.Sprintf("there is no role named %q", in.Role),
			Hint: "run `jit roles` to list the roles you may request", Rule: "roles"}
	}
	if !r.Eligible.Match(u) {
		return Outcome{}, 0, &DeniedError{Reason: fmt.Sprintf("%s is not eligible for %s", u.ID(), r.Name),
			Hint: r.Eligible.withClaimHint(u, fmt.Sprintf("eligible are %s; run `jit roles` to list the roles you may request", r.Eligible)), Rule: r.rule("eligible")}
	}
	d := time.Duration(in.DurationSeconds) * time.Second
	switch {
	case in.DurationSeconds < 0:
		return Outcome{}, 0, &InvalidError{Field: "duration", Reason: "the duration is negative",
			Hint: fmt.Sprintf("ask for --for %s or less", api.FormatDuration(r.MaxDuration)), Rule: r.rule("max_duration")}
	case in.DurationSeconds == 0:
		d = r.DefaultDuration
	case in.DurationSeconds > int64(MaxGrant/time.Second)*2:
		d = MaxGrant * 2 // avoid overflow; rejected below
	}
	reason := strings.TrimSpace(in.Reason)
	if len(in.Reason) > MaxReasonLength {
		return Outcome{}, 0, &InvalidError{Field: "reason", Reason: fmt.Sprintf("the reason is longer than %d characters", MaxReasonLength),
			Hint: "shorten it and link a ticket for the details", Rule: "reason"}
	}
	if len(in.Ticket) > MaxTicketLength {
		return Outcome{}, 0, &InvalidError{Field: "ticket", Reason: fmt.Sprintf("the ticket is longer than %d characters", MaxTicketLength),
			Hint: "give the ticket's id, not its text", Rule: "ticket"}
	}

	if err := r.checkAgent(in); err != nil {
		return Outcome{}, 0, err
	}
	if in.BreakGlass {
		return r.checkBreakGlass(u, in, d, reason)
	}

	if d > r.MaxDuration {
		return Outcome{}, 0, &InvalidError{Field: "duration",
			Reason: fmt.Sprintf("max for %s is %s", r.Name, api.FormatDuration(r.MaxDuration)),
			Hint:   fmt.Sprintf("ask for --for %s or less", api.FormatDuration(r.MaxDuration)), Rule: r.rule("max_duration")}
	}
	if r.ReasonRequired && reason == "" {
		return Outcome{}, 0, &InvalidError{Field: "reason", Reason: fmt.Sprintf("%s requires a reason", r.Name),
			Hint: "add --reason \"why you need it\"", Rule: r.rule("reason_required")}
	}
	if r.TicketPattern != nil {
		if in.Ticket == "" {
			return Outcome{}, 0, &InvalidError{Field: "ticket",
				Reason: fmt.Sprintf("%s requires a ticket matching %s", r.Name, r.TicketPattern),
				Hint:   "add --ticket with your change or incident id", Rule: r.rule("ticket_pattern")}
		}
		if !r.TicketPattern.MatchString(in.Ticket) {
			return Outcome{}, 0, ticketMismatch(r, in.Ticket)
		}
	}
	if r.autoApproves(u, d) && !r.agentNeedsAPerson(in) {
		return Outcome{AutoApproved: true, Rule: r.rule("auto_approve"),
			Why: fmt.Sprintf("auto-approved: %s is in auto_approve and %s ≤ %s", u.ID(), api.FormatDuration(d), api.FormatDuration(r.AutoApprove.MaxDuration))}, d, nil
	}
	why := fmt.Sprintf("needs %d approval(s) from %s", r.ApprovalsRequired, r.Approvers)
	if r.agentNeedsAPerson(in) && r.autoApproves(u, d) {
		why += fmt.Sprintf(" (made by agent %q: an agent's request always waits for a person, roles[%s].agents.human_approval)", in.Agent, r.Name)
	} else if r.AutoApprove != nil && r.AutoApprove.Match(u) {
		why += fmt.Sprintf(" (%s is over the auto-approve max of %s)", api.FormatDuration(d), api.FormatDuration(r.AutoApprove.MaxDuration))
	}
	return Outcome{ApprovalsNeeded: r.ApprovalsRequired, Why: why, Rule: r.rule("approvers")}, d, nil
}

func ticketMismatch(r *Role, ticket string) error {
	return &InvalidError{Field: "ticket",
		Reason: fmt.Sprintf("ticket %q does not match %s for %s", ticket, r.TicketPattern, r.Name),
		Hint:   "check the ticket id (for example ABC-123) and try again", Rule: r.rule("ticket_pattern")}
}

// checkBreakGlass is CheckRequest for a break-glass request on r, for d
// (already defaulted) with the trimmed reason.
func (r *Role) checkBreakGlass(u api.User, in api.CreateRequest, d time.Duration, reason string) (Outcome, time.Duration, error) {
	if r.BreakGlass == nil {
		return Outcome{}, 0, &DeniedError{Reason: fmt.Sprintf("%s does not allow break-glass", r.Name),
			Hint: fmt.Sprintf("request it normally: jit request %s --reason \"...\"", r.Name), Rule: r.rule("break_glass")}
	}
	if !r.mayBreakGlass(u) {
		return Outcome{}, 0, &DeniedError{Reason: fmt.Sprintf("%s may not break glass on %s", u.ID(), r.Name),
			Hint: fmt.Sprintf("break-glass is for %s; request it normally or page them", r.BreakGlass.Subjects), Rule: r.rule("break_glass")}
	}
	if in.DurationSeconds == 0 {
		d = min(d, r.BreakGlass.MaxDuration) // the default never exceeds break-glass's own max
	}
	if reason == "" {
		return Outcome{}, 0, &InvalidError{Field: "reason", Reason: "break-glass needs a reason",
			Hint: "add --reason \"what is broken and why you need this now\"", Rule: r.rule("break_glass")}
	}
	if d > r.BreakGlass.MaxDuration {
		return Outcome{}, 0, &InvalidError{Field: "duration",
			Reason: fmt.Sprintf("max break-glass for %s is %s", r.Name, api.FormatDuration(r.BreakGlass.MaxDuration)),
			Hint:   fmt.Sprintf("ask for --for %s or less", api.FormatDuration(r.BreakGlass.MaxDuration)), Rule: r.rule("break_glass.max_duration")}
	}
	if in.Ticket != "" && r.TicketPattern != nil && !r.TicketPattern.MatchString(in.Ticket) {
		return Outcome{}, 0, ticketMismatch(r, in.Ticket)
	}
	return Outcome{BreakGlass: true, Rule: r.rule("break_glass"), Why: fmt.Sprintf("break-glass by %s: approved at once, flagged for review", u.ID())}, d, nil
}
