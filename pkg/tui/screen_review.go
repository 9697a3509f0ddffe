package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/list"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jit-access/jit/pkg/api"
)

// This file is the review and decide screens: requests waiting for the user's decision.

// reviewKey handles a key on the review screen (requests waiting for the user's decision).
func (m *Model) reviewKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	if m.review.FilterState() == list.Filtering {
		return m.forward(msg)
	}
	switch k {
	case "q":
		return m, tea.Quit
	case "esc", "tab", "shift+tab":
		if k == "esc" && m.review.FilterState() == list.FilterApplied {
			break
		}
		m.screen, m.notice, m.err = screenRoles, "", nil
		return m, m.load()
	case "r":
		m.err = nil
		return m, m.loadReview()
	case "a", "d", "enter":
		it, ok := m.review.SelectedItem().(reviewItem)
		if !ok {
			return m, nil
		}
		req := it.req
		m.deciding, m.approve, m.decideNote = &req, k != "d", ""
		m.comment = m.newInput("comment: ", "optional")
		if !m.approve {
			m.comment = m.newInput("reason:  ", "required: the requester sees it")
		}
		m.comment.Width = max(10, m.width-12)
		m.screen = screenDecide
		return m, m.comment.Focus()
	}
	return m.forward(msg)
}

// decideKey handles a key on the decide screen (the approve/deny comment).
func (m *Model) decideKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	switch k {
	case "esc":
		m.screen, m.deciding = screenReview, nil
		return m, nil
	case "enter":
		text := strings.TrimSpace(m.comment.Value())
		if !m.approve && text == "" {
			m.decideNote = "A denial needs a reason: tell the requester what to change."
			return m, nil
		}
		m.decideNote = "sending…"
		ctx, be, id, seen, approve := m.ctx, m.be, m.deciding.ID, m.deciding.Version, m.approve
		return m, func() tea.Msg {
			var r *api.Request
			var err error
			if approve {
				r, err = be.Approve(ctx, id, seen, text)
			} else {
				r, err = be.Deny(ctx, id, seen, text)
			}
			return decidedMsg{approve: approve, req: r, err: err}
		}
	}
	return m.forward(msg)
}
