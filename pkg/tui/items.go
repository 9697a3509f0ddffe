package tui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/list"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jit-access/jit/pkg/api"
)

// roleItem is one row of the roles tab: a role and what the user has of it.
type roleItem struct {
	role    api.Role
	grant   *api.Request // live grant with the latest end
	pending *api.Request // newest pending request
}

// FilterValue is what the fuzzy filter matches: name, account, ARN and description.
func (i roleItem) FilterValue() string {
	return strings.Join([]string{i.role.Name, i.role.Account, i.role.ARN, i.role.Description}, " ")
}

// state is the row's state word, with the time left on a live grant.
func (i roleItem) state(now time.Time) string {
	switch {
	case i.grant != nil && i.grant.Remaining(now) > 0:
		return "active · " + left(i.grant.Remaining(now)) + " left" + usage(i.grant.Activity, now)
	case i.pending != nil:
		return fmt.Sprintf("pending · %d/%d approvals", len(i.pending.Approvals), i.pending.ApprovalsNeeded)
	case i.role.AutoApproved:
		return "auto-approved"
	case i.role.ApprovalsRequired > 1:
		return fmt.Sprintf("needs %d approvals", i.role.ApprovalsRequired)
	default:
		return "needs approval"
	}
}

// usage is a grant's recorded activity for a row: " · 12 calls, last 2m03s
// ago"; empty when nothing was recorded.
func usage(a *api.Activity, now time.Time) string {
	if !a.Used() {
		return ""
	}
	return fmt.Sprintf(" · %d calls, last %s ago", a.Calls, left(max(0, now.Sub(a.LastUse))))
}

func (i roleItem) live(now time.Time) bool { return i.grant != nil && i.grant.Remaining(now) > 0 }

// left formats a duration for a countdown: 1h02m, 29m59s, 42s.
func left(d time.Duration) string {
	d = d.Truncate(time.Second)
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}

// roleDelegate draws a role in two lines: name, state and account; then
// ARN and description.
type roleDelegate struct {
	st  styles
	now func() time.Time
}

func (d roleDelegate) Height() int                         { return 2 }
func (d roleDelegate) Spacing() int                        { return 0 }
func (d roleDelegate) Update(tea.Msg, *list.Model) tea.Cmd { return nil }
func (d roleDelegate) Render(w io.Writer, m list.Model, index int, it list.Item) {
	i, ok := it.(roleItem)
	if !ok {
		return
	}
	width := m.Width()
	now := d.now()
	cursor, name := "  ", i.role.Name
	if index == m.Index() {
		cursor, name = "> ", d.st.selected.Render(i.role.Name)
	}
	name += strings.Repeat(" ", max(1, 20-ansi.StringWidth(i.role.Name)))
	state := i.state(now)
	switch {
	case i.live(now):
		state = d.st.ok.Render(state)
	case i.pending != nil:
		state = d.st.warn.Render(state)
	}
	if i.role.BreakGlass {
		state += d.st.bad.Render(" · break-glass")
	}
	line1 := cursor + name + state
	if i.role.Account != "" {
		pad := width - ansi.StringWidth(line1) - len(i.role.Account) - 1
		if pad > 0 {
			line1 += strings.Repeat(" ", pad) + d.st.dim.Render(i.role.Account)
		}
	}
	line2 := "    " + i.role.ARN
	if i.role.Description != "" {
		line2 += " · " + i.role.Description
	}
	fmt.Fprintf(w, "%s\n%s", ansi.Truncate(line1, width, "…"), d.st.dim.Render(ansi.Truncate(line2, width, "…")))
}

// reviewItem is a request waiting for the user's decision.
type reviewItem struct{ req api.Request }

func (i reviewItem) FilterValue() string {
	return strings.Join([]string{i.req.Requester, i.req.Role, i.req.Reason, i.req.Ticket, i.req.ID}, " ")
}

type reviewDelegate struct {
	st  styles
	now func() time.Time
}

func (d reviewDelegate) Height() int                         { return 2 }
func (d reviewDelegate) Spacing() int                        { return 0 }
func (d reviewDelegate) Update(tea.Msg, *list.Model) tea.Cmd { return nil }
func (d reviewDelegate) Render(w io.Writer, m list.Model, index int, it list.Item) {
	i, ok := it.(reviewItem)
	if !ok {
		return
	}
	r := i.req
	width := m.Width()
	cursor, who := "  ", r.Requester
	if index == m.Index() {
		cursor, who = "> ", d.st.selected.Render(r.Requester)
	}
	age := left(max(0, d.now().Sub(r.CreatedAt)))
	line1 := fmt.Sprintf("%s%s → %s for %s · %d/%d approvals · %s ago", cursor, who, r.Role,
		api.FormatDuration(r.Duration()), len(r.Approvals), r.ApprovalsNeeded, age)
	if r.BreakGlass {
		line1 += d.st.bad.Render(" · break-glass")
	}
	line1 += usage(r.Activity, d.now())
	line2 := "    " + r.Reason
	if r.Ticket != "" {
		line2 += " [" + r.Ticket + "]"
	}
	line2 += " · " + r.ID
	fmt.Fprintf(w, "%s\n%s", ansi.Truncate(line1, width, "…"), d.st.dim.Render(ansi.Truncate(line2, width, "…")))
}

func secs(s int64) time.Duration { return time.Duration(s) * time.Second }
