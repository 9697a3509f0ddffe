// Package policygraph draws a policy's workflow per role (jit server
// graph): who may request, the paths a request takes (auto-approve,
// break-glass, N of M approvers), the limits on each path and what happens
// at the end (review, idle end). It renders Graphviz DOT and Mermaid as text
// and SVG itself, in pure Go: no Graphviz at run time and nothing compiled
// when jit starts (docs/design-notes.md says why not go-graphviz).
package policygraph

import (
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// Path is one way a request for a role can go.
type Path struct {
	// Kind is auto_approve, break_glass or approvers.
	Kind string
	// Title and Lines describe it: who, and its limits.
	Title string
	Lines []string
}

// Flow is one role's workflow.
type Flow struct {
	Role string
	// Who may request, and what a request needs.
	Who []string
	// Paths in order: auto-approve, break-glass, approvers.
	Paths []Path
	// End is what happens to a grant: its bounds, extensions, idle end and
	// review.
	End []string
}

// Flows returns the workflow of every role, or of the one named (false
// when there is no such role).
func Flows(p *policy.Policy, role string) ([]Flow, bool) {
	var out []Flow
	for _, r := range p.Roles {
		if role != "" && r.Name != role {
			continue
		}
		out = append(out, flowOf(r))
	}
	return out, len(out) > 0
}

func flowOf(r *policy.Role) Flow {
	f := Flow{Role: r.Name, Who: []string{"eligible: " + r.Eligible.String()}}
	var needs []string
	if r.ReasonRequired {
		needs = append(needs, "a reason")
	}
	if r.TicketPattern != nil {
		needs = append(needs, "a ticket "+r.TicketPattern.String())
	}
	if len(needs) > 0 {
		f.Who = append(f.Who, "needs "+strings.Join(needs, " and "))
	}
	f.Who = append(f.Who, fmt.Sprintf("default %s, max %s", dur(r.DefaultDuration), dur(r.MaxDuration)))
	if a := r.AutoApprove; a != nil {
		f.Paths = append(f.Paths, Path{Kind: "auto_approve", Title: "approved at once",
			Lines: []string{a.Subjects.String(), "up to " + dur(a.MaxDuration)}})
	}
	if b := r.BreakGlass; b != nil {
		who := "every eligible user"
		if !b.Subjects.Empty() {
			who = b.Subjects.String()
		}
		f.Paths = append(f.Paths, Path{Kind: "break_glass", Title: "break-glass",
			Lines: []string{who, "up to " + dur(b.MaxDuration) + ", reason required", "everyone notified, reviewed after"}})
	}
	if !r.Approvers.Empty() {
		lines := []string{r.Approvers.String()}
		if r.Approvers.ManagerOfRequester {
			lines = append(lines, "manager named by the server's managers: source")
		}
		f.Paths = append(f.Paths, Path{Kind: "approvers", Title: fmt.Sprintf("%d of approvers", r.ApprovalsRequired),
			Lines: append(lines, "never the requester", "times out after "+dur(r.PendingTimeout))})
	}
	f.End = []string{"grant ends at its time"}
	if r.MaxExtensions > 0 {
		f.End = append(f.End, fmt.Sprintf("%d extension(s), %s in total", r.MaxExtensions, dur(r.MaxTotalDuration)))
	}
	if r.IdleTimeout > 0 {
		f.End = append(f.End, "revoked after "+dur(r.IdleTimeout)+" idle")
	}
	switch {
	case r.ReviewRequired:
		f.End = append(f.End, "every grant reviewed after")
	case r.BreakGlass != nil:
		f.End = append(f.End, "break-glass grants reviewed after")
	}
	return f
}

func dur(d time.Duration) string { return api.FormatDuration(d) }
