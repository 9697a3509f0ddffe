package policy

import (
	"fmt"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy/identity"
)

// grantTotal is how long req's grant lasts with the extensions it has.
func grantTotal(req *api.Request) time.Duration {
	if !req.StartsAt.IsZero() && req.EndsAt.After(req.StartsAt) {
		return req.EndsAt.Sub(req.StartsAt)
	}
	return req.Duration()
}

// ExtensionApproval says whether extending req by `by` needs approvers,
// and why. A grant that skipped approvers — break-glass, or auto-approved —
// is extended by its requester alone only while its total stays within the
// limit that let it skip them (break_glass.max_duration,
// auto_approve.max_duration, and only while the requester is still in
// auto_approve). Past it, the role's approvers must agree, as many as a
// request needs. A grant approvers gave extends alone within the role's
// extension limits (CheckExtend), as before.
func (p *Policy) ExtensionApproval(u api.User, req *api.Request, by time.Duration) (needed int, why string) {
	d := p.ExtensionDecision(u, req, by)
	return d.ApprovalsNeeded, d.Why
}

// ExtensionNeeds is ExtensionApproval's answer with the policy key that
// decided it.
type ExtensionNeeds struct {
	// ApprovalsNeeded is 0 when the requester extends alone.
	ApprovalsNeeded int
	Why             string
	// Rule is the limit that made approvers necessary,
	// "roles[NAME].break_glass.max_duration"; empty when none did.
	Rule string
}

// ExtensionDecision is ExtensionApproval, naming the rule that decided.
func (p *Policy) ExtensionDecision(u api.User, req *api.Request, by time.Duration) ExtensionNeeds {
	r, ok := p.Role(req.Role)
	if !ok {
		return ExtensionNeeds{}
	}
	after := grantTotal(req) + by
	needed := max(1, r.ApprovalsRequired)
	switch {
	case req.BreakGlass:
		if r.BreakGlass == nil {
			return ExtensionNeeds{needed, fmt.Sprintf("%s no longer allows break-glass, so extending this break-glass grant needs %d approval(s) from %s",
				r.Name, needed, r.Approvers), r.rule("break_glass")}
		}
		if after > r.BreakGlass.MaxDuration {
			return ExtensionNeeds{needed, fmt.Sprintf("a break-glass grant extends alone only up to its break_glass.max_duration of %s (this would make %s); past it, %d approval(s) from %s",
				api.FormatDuration(r.BreakGlass.MaxDuration), api.FormatDuration(after), needed, r.Approvers), r.rule("break_glass.max_duration")}
		}
	case req.AutoApproved:
		if r.AutoApprove == nil || !r.AutoApprove.Match(u) {
			return ExtensionNeeds{needed, fmt.Sprintf("%s would not auto-approve this grant now, so extending it needs %d approval(s) from %s",
				r.Name, needed, r.Approvers), r.rule("auto_approve")}
		}
		if after > r.AutoApprove.MaxDuration {
			return ExtensionNeeds{needed, fmt.Sprintf("an auto-approved grant extends alone only up to auto_approve.max_duration of %s (this would make %s); past it, %d approval(s) from %s",
				api.FormatDuration(r.AutoApprove.MaxDuration), api.FormatDuration(after), needed, r.Approvers), r.rule("auto_approve.max_duration")}
		}
	}
	return ExtensionNeeds{}
}

// CanDecideExtension says whether u may approve or deny req's pending
// extension: an approver of its role, not its requester, not yet decided,
// and the grant still live with an extension waiting.
func (p *Policy) CanDecideExtension(u api.User, req *api.Request) error {
	r, err := p.roleOf(req)
	if err != nil {
		return err
	}
	if identity.MayHaveRequested(u, req) {
		return &DeniedError{Reason: "a requester never approves their own extension",
			Hint: fmt.Sprintf("ask one of %s to approve it", r.Approvers)}
	}
	if !r.approves(u, req) {
		return &DeniedError{Reason: fmt.Sprintf("%s is not an approver for %s", u.ID(), r.Name),
			Hint: r.approversHint(req), Rule: r.rule("approvers")}
	}
	if !req.State.Granted() || req.PendingExtension == nil {
		return &ConflictError{Reason: fmt.Sprintf("request %s has no extension waiting", req.ID),
			Hint: fmt.Sprintf("see it with: jit show %s", req.ID)}
	}
	for _, d := range req.PendingExtension.Approvals {
		if identity.MayHaveDecided(u, d) {
			return &ConflictError{Reason: fmt.Sprintf("%s already approved the extension of request %s", u.ID(), req.ID),
				Hint: "each approver decides once; another approver must add theirs"}
		}
	}
	return nil
}

// CheckExtensionStillFits re-checks, when approvers grant a pending
// extension, the role's extension limits the requester's ask was checked
// against (the policy may have been reloaded meanwhile).
func (p *Policy) CheckExtensionStillFits(req *api.Request) error {
	r, err := p.roleOf(req)
	if err != nil {
		return err
	}
	if req.Extensions >= r.MaxExtensions {
		return &DeniedError{Reason: fmt.Sprintf("request %s has used all %d extension(s) %s allows", req.ID, r.MaxExtensions, r.Name),
			Hint: fmt.Sprintf("deny the extension: jit deny %s --reason ...", req.ID)}
	}
	if by := req.PendingExtension.Duration(); grantTotal(req)+by > r.MaxTotalDuration {
		return &DeniedError{Reason: fmt.Sprintf("max total for %s is %s; this extension would make %s", r.Name,
			api.FormatDuration(r.MaxTotalDuration), api.FormatDuration(grantTotal(req)+by)),
			Hint: fmt.Sprintf("deny the extension: jit deny %s --reason ...", req.ID)}
	}
	return nil
}
