package tui

import tea "github.com/charmbracelet/bubbletea"

// This file is the waiting and result screens of a request.

// waitingKey handles a key on the waiting screen (a pending request).
func (m *Model) waitingKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	switch k {
	case "esc", "q":
		// The request stays pending on the server; its row says so.
		m.screen = screenRoles
		return m, m.load()
	case "r":
		if m.waitErr != nil && m.req != nil {
			m.waitErr = nil
			return m, m.waitCmd(m.req)
		}
	}
	return m, nil
}

// resultKey handles a key on the result screen (the request's outcome).
func (m *Model) resultKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := msg.String()
	switch k {
	case "enter":
		if m.req != nil && m.req.State.Granted() && m.creds {
			m.current = m.itemFor(m.req.Role)
			m.screen, m.action = screenActions, 0
			return m, nil
		}
		if m.req != nil && !m.req.State.Granted() {
			return m, m.open(m.itemFor(m.req.Role))
		}
	case "esc", "q":
		m.screen = screenRoles
		return m, m.load()
	}
	return m, nil
}
