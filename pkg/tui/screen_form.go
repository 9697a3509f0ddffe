package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/jit-access/jit/pkg/api"
)

// This file is the request form.

func (m *Model) openForm(it roleItem) tea.Cmd {
	r := it.role
	def := time.Duration(r.DefaultDuration) * time.Second
	m.inputs = []textinput.Model{m.newInput("", api.FormatDuration(def))}
	reason := "why you need it"
	if r.ReasonRequired {
		reason += " (required)"
	}
	m.inputs = append(m.inputs, m.newInput("", reason))
	if r.TicketRequired || r.TicketPattern != "" {
		p := "ticket id (required)"
		if r.TicketPattern != "" {
			p = "ticket matching " + r.TicketPattern
		}
		m.inputs = append(m.inputs, m.newInput("", p))
	}
	m.breakGlass, m.focus, m.formErr = false, 0, ""
	m.screen = screenForm
	m.resize()
	return m.inputs[0].Focus()
}

// fields counts the form's stops: the inputs and the break-glass switch.
func (m *Model) fields() int {
	if m.current.role.BreakGlass {
		return len(m.inputs) + 1
	}
	return len(m.inputs)
}

func (m *Model) setFocus(i int) tea.Cmd {
	m.focus = (i + m.fields()) % m.fields()
	var cmd tea.Cmd
	for j := range m.inputs {
		if j == m.focus {
			cmd = m.inputs[j].Focus()
		} else {
			m.inputs[j].Blur()
		}
	}
	return cmd
}

func (m *Model) formKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.String() {
	case "esc":
		m.screen = screenRoles
		return m, nil
	case "tab", "down":
		return m, m.setFocus(m.focus + 1)
	case "shift+tab", "up":
		return m, m.setFocus(m.focus - 1)
	case " ":
		if m.focus == len(m.inputs) {
			m.breakGlass = !m.breakGlass
			return m, nil
		}
	case "enter":
		if m.focus < m.fields()-1 {
			return m, m.setFocus(m.focus + 1)
		}
		return m.submit()
	}
	return m.forward(msg)
}

// submit checks the form against the role's policy and sends the request.
func (m *Model) submit() (tea.Model, tea.Cmd) {
	r := m.current.role
	in := api.CreateRequest{Role: r.Name, Reason: strings.TrimSpace(m.inputs[1].Value()), BreakGlass: m.breakGlass}
	if v := strings.TrimSpace(m.inputs[0].Value()); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			m.formErr = fmt.Sprintf("Duration %q: write it like 30m or 1h.", v)
			return m, m.setFocus(0)
		}
		if maxD := time.Duration(r.MaxDuration) * time.Second; maxD > 0 && d > maxD {
			m.formErr = fmt.Sprintf("%s is longer than %s allows (%s at most).", api.FormatDuration(d), r.Name, api.FormatDuration(maxD))
			return m, m.setFocus(0)
		}
		in.DurationSeconds = int64(d / time.Second)
	}
	if (r.ReasonRequired || m.breakGlass) && in.Reason == "" {
		m.formErr = "A reason is required: approvers and the audit log see it."
		return m, m.setFocus(1)
	}
	if len(m.inputs) > 2 {
		in.Ticket = strings.TrimSpace(m.inputs[2].Value())
		if in.Ticket == "" && r.TicketRequired {
			m.formErr = "This role needs a ticket id."
			return m, m.setFocus(2)
		}
	}
	m.formErr = ""
	m.touch(r.Name)
	m.req, m.waitErr = &api.Request{Role: r.Name, State: api.StatePending, DurationSeconds: in.DurationSeconds}, nil
	m.screen = screenWaiting
	ctx, be := m.ctx, m.be
	return m, func() tea.Msg {
		req, err := be.Request(ctx, in)
		return createdMsg{req: req, err: err}
	}
}
