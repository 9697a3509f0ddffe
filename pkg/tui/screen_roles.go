package tui

import (
	"github.com/charmbracelet/bubbles/list"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jit-access/jit/pkg/api"
)

// This file is the roles screen: the list of roles and where a row leads.

// rolesKey handles a key on the roles screen (the list of roles).
func (m *Model) rolesKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	if m.roles.FilterState() == list.Filtering {
		return m.forward(msg)
	}
	switch k {
	case "q", "esc":
		if k == "esc" && m.roles.FilterState() == list.FilterApplied {
			break
		}
		return m, tea.Quit
	case "tab", "shift+tab":
		m.screen, m.notice, m.err = screenReview, "", nil
		return m, m.loadReview()
	case "r":
		m.err, m.loading = nil, true
		return m, m.load()
	case "enter":
		it, ok := m.roles.SelectedItem().(roleItem)
		if !ok {
			return m, nil
		}
		return m, m.open(it)
	}
	return m.forward(msg)
}

func (m *Model) itemFor(role string) roleItem {
	for _, it := range m.roles.Items() {
		if ri, ok := it.(roleItem); ok && ri.role.Name == role {
			return ri
		}
	}
	for _, r := range m.allRole {
		if r.Name == role {
			return roleItem{role: r}
		}
	}
	return roleItem{role: api.Role{Name: role}}
}

// open goes to what a role row leads to: actions on a live grant, the
// pending request's wait, or the request form.
func (m *Model) open(it roleItem) tea.Cmd {
	m.current, m.err, m.notice = it, nil, ""
	switch {
	case it.live(m.now()):
		m.screen, m.action = screenActions, 0
		return nil
	case it.pending != nil:
		req := *it.pending
		m.req, m.waitErr = &req, nil
		return m.follow()
	}
	return m.openForm(it)
}
