package tui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jit-access/jit/pkg/api"
)

// This file holds the commands the screens start: loading, waiting and
// watching, each reporting back as a message.

func (m *Model) tickCmd() tea.Cmd {
	return tea.Tick(m.tick, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *Model) load() tea.Cmd {
	ctx, be := m.ctx, m.be
	return func() tea.Msg {
		roles, err := be.Roles(ctx)
		if err != nil {
			return loadedMsg{err: err}
		}
		mine, err := be.Mine(ctx)
		return loadedMsg{roles: roles, mine: mine, err: err}
	}
}

func (m *Model) loadReview() tea.Cmd {
	ctx, be := m.ctx, m.be
	return func() tea.Msg {
		reqs, err := be.Review(ctx)
		return reviewMsg{reqs: reqs, err: err}
	}
}

func (m *Model) waitCmd(r *api.Request) tea.Cmd {
	m.waitGen++
	ctx, be, id, seen, gen := m.ctx, m.be, r.ID, r.Version, m.waitGen
	return func() tea.Msg {
		next, err := be.WaitChange(ctx, id, seen)
		return changedMsg{gen: gen, id: id, req: next, err: err}
	}
}

func (m *Model) watchGrantCmd(r *api.Request) tea.Cmd {
	ctx, be, id, seen := m.ctx, m.be, r.ID, r.Version
	return func() tea.Msg {
		next, err := be.WaitChange(ctx, id, seen)
		return grantMsg{req: next, err: err}
	}
}

func (m *Model) credsCmd(role string) tea.Cmd {
	ctx, be := m.ctx, m.be
	return func() tea.Msg {
		_, err := be.Credentials(ctx, role)
		return credsMsg{role: role, err: err}
	}
}
