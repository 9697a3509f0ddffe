package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/jit-access/jit/pkg/api"
)

// View implements tea.Model: a tab line, the screen, and a line for the
// last error with its next step (or a notice).
func (m *Model) View() string {
	var body string
	switch m.screen {
	case screenRoles:
		body = m.rolesView()
	case screenReview:
		body = m.reviewView()
	case screenActions:
		body = m.actionsView()
	case screenForm:
		body = m.formView()
	case screenWaiting:
		body = m.waitingView()
	case screenResult:
		body = m.resultView()
	case screenDecide:
		body = m.decideView()
	}
	bh := m.bodyHeight()
	lines := strings.Split(body, "\n")
	if len(lines) > bh {
		lines = lines[:bh]
	}
	for len(lines) < bh {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(strings.TrimRight(l, " "), m.width, "…")
	}
	return m.tabs() + "\n\n" + strings.Join(lines, "\n") + "\n" + m.footer()
}

func (m *Model) tabs() string {
	roles, review := m.st.tab, m.st.tab
	if m.screen == screenReview || m.screen == screenDecide {
		review = m.st.tabOn
	} else {
		roles = m.st.tabOn
	}
	n := ""
	if m.reviewLoaded {
		n = fmt.Sprintf(" (%d)", len(m.review.Items()))
	}
	return "jit " + roles.Render("Roles") + " " + review.Render("Review"+n)
}

func (m *Model) footer() string {
	switch {
	case m.err != nil:
		msg, hint := describe(m.err)
		line := "! " + msg
		if hint != "" {
			line += " — try: " + hint
		}
		return m.st.errBox.Render(ansi.Truncate(line, m.width, "…"))
	case m.notice != "":
		return m.st.dim.Render(ansi.Truncate(m.notice, m.width, "…"))
	}
	return ""
}

func (m *Model) rolesView() string {
	if m.loading && len(m.roles.Items()) == 0 {
		return "  Loading roles…"
	}
	if m.err != nil && len(m.roles.Items()) == 0 {
		return "  No roles to show."
	}
	return m.roles.View()
}

func (m *Model) reviewView() string {
	if !m.reviewLoaded {
		return "  Loading requests waiting for your review…"
	}
	if len(m.review.Items()) == 0 {
		return "  Nothing waits for your review.\n\n" + m.st.dim.Render("  r reload · tab roles · q quit")
	}
	return m.review.View()
}

func (m *Model) roleHeader(b *strings.Builder, it roleItem) {
	r := it.role
	fmt.Fprintf(b, "  %s  %s\n", m.st.title.Render(r.Name), it.state(m.now()))
	fmt.Fprintf(b, "  %s\n", m.st.dim.Render(r.ARN))
	if r.Account != "" || r.Description != "" {
		fmt.Fprintf(b, "  %s\n", m.st.dim.Render(strings.TrimPrefix(r.Account+" · "+r.Description, " · ")))
	}
	b.WriteString("\n")
}

func (m *Model) actionsView() string {
	var b strings.Builder
	m.roleHeader(&b, m.current)
	for i, a := range actions {
		cur := "  "
		label := a.label
		if i == m.action {
			cur, label = "> ", m.st.selected.Render(a.label)
		}
		fmt.Fprintf(&b, "  %s%s  %s\n", cur, m.st.dim.Render(a.key), label)
	}
	b.WriteString("\n" + m.st.dim.Render("  ↑/↓ move · enter or a letter to choose · esc back"))
	return b.String()
}

func (m *Model) formView() string {
	var b strings.Builder
	r := m.current.role
	fmt.Fprintf(&b, "  Request %s\n", m.st.title.Render(r.Name))
	fmt.Fprintf(&b, "  %s\n", m.st.dim.Render(r.ARN))
	who := "needs approval"
	switch {
	case r.AutoApproved:
		who = "auto-approved by policy"
	case r.ApprovalsRequired > 1:
		who = fmt.Sprintf("needs %d approvals", r.ApprovalsRequired)
	}
	fmt.Fprintf(&b, "  %s\n\n", m.st.dim.Render(fmt.Sprintf("%s · default %s · at most %s", who,
		api.FormatDuration(secs(r.DefaultDuration)), api.FormatDuration(secs(r.MaxDuration)))))
	labels := []string{"Duration", "Reason", "Ticket"}
	for i := range m.inputs {
		mark := "  "
		if i == m.focus {
			mark = "> "
		}
		fmt.Fprintf(&b, "  %s%s%s\n", mark, m.st.label.Render(labels[i]), m.inputs[i].View())
	}
	if r.BreakGlass {
		mark, box := "  ", "[ ]"
		if m.focus == len(m.inputs) {
			mark = "> "
		}
		if m.breakGlass {
			box = "[x]"
		}
		fmt.Fprintf(&b, "  %s%s%s %s\n", mark, m.st.label.Render("Break-glass"), box,
			m.st.dim.Render("self-activate now; everyone is notified (space)"))
	}
	b.WriteString("\n")
	if m.formErr != "" {
		b.WriteString("  " + m.st.errBox.Render(m.formErr) + "\n\n")
	}
	b.WriteString(m.st.dim.Render("  tab/↑/↓ move · enter next, then send · esc back"))
	return b.String()
}

func (m *Model) waitingView() string {
	var b strings.Builder
	r := m.req
	if r == nil {
		return ""
	}
	if r.ID == "" {
		fmt.Fprintf(&b, "  Sending the request for %s…\n", m.st.title.Render(r.Role))
		return b.String()
	}
	fmt.Fprintf(&b, "  Request %s for %s · %s\n", r.ID, m.st.title.Render(r.Role), api.FormatDuration(r.Duration()))
	if r.Reason != "" {
		fmt.Fprintf(&b, "  Reason: %s\n", r.Reason)
	}
	b.WriteString("\n")
	waited := left(max(0, m.now().Sub(r.CreatedAt)))
	fmt.Fprintf(&b, "  %s waiting for approval: %d of %d · waited %s\n", m.st.warn.Render("…"),
		len(r.Approvals), r.ApprovalsNeeded, waited)
	for _, d := range r.Approvals {
		fmt.Fprintf(&b, "    ✓ %s\n", d.By)
	}
	if !r.PendingUntil.IsZero() {
		fmt.Fprintf(&b, "  %s\n", m.st.dim.Render("times out in "+left(max(0, r.PendingUntil.Sub(m.now())))))
	}
	b.WriteString("\n  Approvers have been told. This screen changes the moment they decide.\n")
	if m.waitErr != nil {
		fmt.Fprintf(&b, "\n  %s\n", m.st.errBox.Render("Lost track of the request: "+errLine(m.waitErr)))
		b.WriteString(m.st.dim.Render("  r retry · esc back (the request stays pending)") + "\n")
	}
	fmt.Fprintf(&b, "\n%s", m.st.dim.Render(fmt.Sprintf("  esc back (it stays pending) · ctrl+c quit, resume with: jit wait %s", r.ID)))
	return b.String()
}

func (m *Model) resultView() string {
	var b strings.Builder
	r := m.req
	switch r.State {
	case api.StateApproved, api.StateActive:
		fmt.Fprintf(&b, "  %s %s granted for %s (%s)\n", m.st.ok.Render("✓"), m.st.title.Render(r.Role), api.FormatDuration(r.Duration()), approvedBy(r))
		fmt.Fprintf(&b, "    %s left · request %s\n\n", left(r.Remaining(m.now())), r.ID)
		switch {
		case m.credsErr != nil:
			fmt.Fprintf(&b, "  %s\n", m.st.errBox.Render("Fetching credentials failed: "+errLine(m.credsErr)))
			fmt.Fprintf(&b, "  Next: jit exec %s (it fetches them again) · esc back\n", r.Role)
		case !m.creds:
			b.WriteString("  Fetching credentials…\n")
		default:
			b.WriteString("  Credentials are in your keyring.\n\n")
			fmt.Fprintf(&b, "  Next: enter for a shell, exports, the console or the AWS profile;\n")
			fmt.Fprintf(&b, "        or later: aws --profile %s … · jit exec %s -- CMD\n", r.Role, r.Role)
			b.WriteString("\n" + m.st.dim.Render("  enter actions · esc back to roles"))
		}
	case api.StateDenied:
		by, why := "an approver", ""
		if r.Denial != nil {
			by, why = r.Denial.By, r.Denial.Comment
		}
		fmt.Fprintf(&b, "  %s %s was denied by %s\n", m.st.bad.Render("✗"), m.st.title.Render(r.Role), by)
		if why != "" {
			fmt.Fprintf(&b, "    %q\n", why)
		}
		b.WriteString("\n  Next: talk to the approver, then enter to ask again with more context.\n")
		b.WriteString("\n" + m.st.dim.Render("  enter ask again · esc back to roles"))
	case api.StateTimedOut:
		fmt.Fprintf(&b, "  %s %s timed out with no decision\n\n", m.st.bad.Render("✗"), m.st.title.Render(r.Role))
		b.WriteString("  Next: ping an approver, then enter to ask again.\n")
		b.WriteString("\n" + m.st.dim.Render("  enter ask again · esc back to roles"))
	default:
		fmt.Fprintf(&b, "  %s request %s is %s", m.st.bad.Render("✗"), r.ID, r.State)
		if r.EndedBy != "" {
			fmt.Fprintf(&b, " (by %s: %s)", r.EndedBy, r.EndReason)
		}
		b.WriteString("\n\n  Next: enter to ask again · esc back to roles\n")
	}
	return b.String()
}

func (m *Model) decideView() string {
	var b strings.Builder
	r := m.deciding
	verb := "Approve"
	if !m.approve {
		verb = "Deny"
	}
	fmt.Fprintf(&b, "  %s %s's request for %s\n\n", m.st.title.Render(verb), r.Requester, m.st.title.Render(r.Role))
	fmt.Fprintf(&b, "  %s%s\n", m.st.label.Render("Request"), r.ID)
	fmt.Fprintf(&b, "  %s%s\n", m.st.label.Render("Duration"), api.FormatDuration(r.Duration()))
	fmt.Fprintf(&b, "  %s%s\n", m.st.label.Render("Reason"), r.Reason)
	if r.Ticket != "" {
		fmt.Fprintf(&b, "  %s%s\n", m.st.label.Render("Ticket"), r.Ticket)
	}
	fmt.Fprintf(&b, "  %s%s ago\n", m.st.label.Render("Asked"), left(max(0, m.now().Sub(r.CreatedAt))))
	fmt.Fprintf(&b, "  %s%d of %d\n\n", m.st.label.Render("Approvals"), len(r.Approvals), r.ApprovalsNeeded)
	fmt.Fprintf(&b, "  %s\n\n", m.comment.View())
	if m.decideNote != "" {
		fmt.Fprintf(&b, "  %s\n\n", m.st.errBox.Render(m.decideNote))
	}
	b.WriteString(m.st.dim.Render(fmt.Sprintf("  enter %s · esc back", strings.ToLower(verb))))
	return b.String()
}

func approvedBy(r *api.Request) string {
	switch {
	case r.BreakGlass:
		return "break-glass: everyone is notified"
	case r.AutoApproved:
		return "auto-approved"
	}
	by := make([]string, 0, len(r.Approvals))
	for _, d := range r.Approvals {
		by = append(by, d.By)
	}
	return "approved by " + strings.Join(by, ", ")
}
