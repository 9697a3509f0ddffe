package tui

import tea "github.com/charmbracelet/bubbletea"

// This file is the actions screen: what to do with a live grant.

// actionsKey handles a key on the actions screen (what to do with a live grant).
func (m *Model) actionsKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	switch k {
	case "esc", "q":
		m.screen = screenRoles
		return m, nil
	case "up", "k":
		m.action = max(0, m.action-1)
		return m, nil
	case "down", "j":
		m.action = min(len(actions)-1, m.action+1)
		return m, nil
	case "enter":
		return m.choose(actions[m.action].kind)
	}
	for _, a := range actions {
		if k == a.key {
			return m.choose(a.kind)
		}
	}
	return m, nil
}

func (m *Model) choose(kind ActionKind) (tea.Model, tea.Cmd) {
	m.touch(m.current.role.Name)
	m.result = Result{Action: kind, Role: m.current.role.Name}
	return m, tea.Quit
}
