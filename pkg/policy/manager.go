package policy

import (
	"fmt"
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// Managers. A role's approvers may include manager_of_requester: true, the
// requester's manager. Who that is the policy cannot know: the server's
// manager source (managers: in the server config: a token claim, the
// directory's manager attribute, or a static map; pkg/approvers) names them
// when the request is made, and the request keeps the name
// (api.Request.Manager). From then on the rule is pure: a person whose
// verified username (or verified email) is that name may approve — unless
// they are the requester (checked first, by principal and verified email)
// or a workload (which never decides).

// NeedsManager reports whether a request for role would ask the manager
// source for the requester's manager: the role's approvers include
// manager_of_requester.
func (p *Policy) NeedsManager(role string) bool {
	r, ok := p.Role(role)
	return ok && r.Approvers.ManagerOfRequester
}

// isManager reports whether u is req's recorded manager: by verified
// username, else verified email; never a workload, never when no manager
// is recorded.
func isManager(u api.User, req *api.Request) bool {
	if req.Manager == "" || u.IsWorkload() {
		return false
	}
	return (u.Username != "" && api.SameName(u.Username, req.Manager)) ||
		(u.Email != "" && strings.EqualFold(u.Email, req.Manager))
}

// approves reports whether u is one of r's approvers for req: listed (by
// name or group), or req's manager when the role allows managers. The
// requester and workloads are refused before this is asked.
func (r *Role) approves(u api.User, req *api.Request) bool {
	return r.Approvers.Match(u) || (r.Approvers.ManagerOfRequester && isManager(u, req))
}

// Approves reports whether u is one of the approvers of req's role for req
// (listed, or its requester's recorded manager), whether or not u may
// decide it now (CanApprove says that). False for a role no longer in the
// policy.
func (p *Policy) Approves(u api.User, req *api.Request) bool { return p.approvesRole(u, req) }

// MayApproveRole reports whether u may approve some requests of role:
// listed among its approvers, or — for a role whose approvers include
// manager_of_requester — possibly as a requester's manager (Approves
// tells per request).
func (p *Policy) MayApproveRole(u api.User, role string) bool {
	r, ok := p.Role(role)
	return ok && !u.IsWorkload() && (r.Approvers.Match(u) || r.Approvers.ManagerOfRequester)
}

// approvesRole is approves for req's role (false for a role no longer in
// the policy).
func (p *Policy) approvesRole(u api.User, req *api.Request) bool {
	r, ok := p.Role(req.Role)
	return ok && r.approves(u, req)
}

// approversHint names who may approve req, its manager included.
func (r *Role) approversHint(req *api.Request) string {
	if !r.Approvers.ManagerOfRequester {
		return fmt.Sprintf("approvers are %s", r.Approvers)
	}
	if req.Manager == "" {
		return fmt.Sprintf("approvers are %s; this request has no manager on record (the manager source did not name one when it was made)", r.Approvers)
	}
	return fmt.Sprintf("approvers are %s (for this request: %s)", r.Approvers, req.Manager)
}

// IsManagerOf reports whether u may approve req as its requester's
// manager (for explanations; the decision is CanApprove's).
func (p *Policy) IsManagerOf(u api.User, req *api.Request) bool {
	return p.NeedsManager(req.Role) && isManager(u, req) && !isRequester(u, req)
}

// ManagerOutcome is what the server learnt about a requester's manager
// when a request was made, for the outcome's explanation: the name (empty
// when none) and, when the source could not name one, why.
type ManagerOutcome struct {
	Manager string
	// Source is the manager source's kind: claim, ldap or static.
	Source string
	// Problem says why no usable manager was found (empty when one was).
	Problem string
}

// ManagerAnswer turns what a manager source (of kind source) answered
// for requester u — a name, or err — into a ManagerOutcome: a workload has
// none, a failure or an empty name is a problem, and so is the requester
// named as their own manager (a requester never approves their own
// request).
func ManagerAnswer(u api.User, source, name string, err error) ManagerOutcome {
	out := ManagerOutcome{Source: source}
	name = strings.TrimSpace(name)
	switch {
	case u.IsWorkload():
		out.Problem = "a workload has no manager"
	case err != nil:
		out.Problem = "the manager source could not name the requester's manager: " + err.Error()
	case name == "":
		out.Problem = "the manager source names no manager for the requester"
	case (u.Username != "" && api.SameName(name, u.Username)) || (u.Email != "" && strings.EqualFold(name, u.Email)):
		out.Problem = "the manager source names the requester as their own manager, and a requester never approves their own request"
	default:
		out.Manager = name
	}
	return out
}

// WithManager completes a waiting request's outcome for role with what the
// manager source answered: it names the manager in Why, or refuses the
// request when, without a manager, too few approvers remain to ever
// approve it (a clear refusal rather than a request nobody may approve).
func (p *Policy) WithManager(o Outcome, role string, m ManagerOutcome) (Outcome, error) {
	r, ok := p.Role(role)
	if !ok || !r.Approvers.ManagerOfRequester || o.ApprovalsNeeded == 0 {
		return o, nil
	}
	if m.Problem == "" {
		o.Why += fmt.Sprintf("; the requester's manager is %s (managers.source %s)", m.Manager, m.Source)
		return o, nil
	}
	others := r.Approvers
	others.ManagerOfRequester = false
	if len(others.Groups) == 0 && len(others.Users) < o.ApprovalsNeeded {
		return o, &DeniedError{Reason: fmt.Sprintf("%s needs %d approval(s) from %s, and %s", r.Name, o.ApprovalsNeeded, r.Approvers, m.Problem),
			Hint: "ask the operator to fix the manager source (managers: in the server config), or to list more approvers", Rule: r.rule("approvers.manager_of_requester")}
	}
	o.Why += fmt.Sprintf("; the requester's manager cannot approve it: %s", m.Problem)
	return o, nil
}
