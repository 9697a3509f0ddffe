package tui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/session"
)

// stubBackend answers from fields; Update tests never run its commands
// unless they say so.
type stubBackend struct {
	created []api.CreateRequest
}

func (b *stubBackend) Roles(context.Context) ([]api.Role, error)     { return nil, nil }
func (b *stubBackend) Mine(context.Context) ([]api.Request, error)   { return nil, nil }
func (b *stubBackend) Review(context.Context) ([]api.Request, error) { return nil, nil }
func (b *stubBackend) Request(_ context.Context, in api.CreateRequest) (*api.Request, error) {
	b.created = append(b.created, in)
	return &api.Request{ID: "req_1", Role: in.Role, State: api.StatePending, ApprovalsNeeded: 1, Version: 1}, nil
}
func (b *stubBackend) WaitChange(context.Context, string, int64) (*api.Request, error) {
	return nil, errors.New("not used")
}
func (b *stubBackend) Approve(context.Context, string, int64, string) (*api.Request, error) {
	return nil, errors.New("not used")
}
func (b *stubBackend) Deny(context.Context, string, int64, string) (*api.Request, error) {
	return nil, errors.New("not used")
}
func (b *stubBackend) Credentials(context.Context, string) (api.Credentials, error) {
	return api.Credentials{}, nil
}

var unitRoles = []api.Role{
	{Name: "readonly", ARN: "arn:aws:iam::1:role/ro", Account: "111111111111", Description: "logs", DefaultDuration: 900, MaxDuration: 3600, AutoApproved: true},
	{Name: "prod-admin", ARN: "arn:aws:iam::1:role/admin", Account: "111111111111", Description: "admin", DefaultDuration: 1800, MaxDuration: 7200, ReasonRequired: true, ApprovalsRequired: 1},
	{Name: "billing", ARN: "arn:aws:iam::2:role/billing", Account: "222222222222", Description: "invoices", MaxDuration: 3600, TicketRequired: true, ApprovalsRequired: 2},
}

func unitModel(t *testing.T, mru *MRU) (*Model, *stubBackend) {
	t.Helper()
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	be := &stubBackend{}
	m := New(t.Context(), Options{Backend: be, Now: func() time.Time { return base }, Renderer: r, MRU: mru})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(loadedMsg{roles: unitRoles, mine: []api.Request{
		{ID: "req_9", Role: "readonly", State: api.StateActive, StartsAt: base.Add(-5 * time.Minute), EndsAt: base.Add(10 * time.Minute)},
	}})
	m.Update(reviewMsg{})
	return m, be
}

func press(m *Model, ks ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range ks {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "tab":
			msg = tea.KeyMsg{Type: tea.KeyTab}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "ctrl+c":
			msg = tea.KeyMsg{Type: tea.KeyCtrlC}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		_, cmd = m.Update(msg)
	}
	return cmd
}

func TestLiveGrantOpensActionsAndQuitsWithChoice(t *testing.T) {
	m, _ := unitModel(t, nil)
	press(m, "enter")
	if m.screen != screenActions || m.current.role.Name != "readonly" {
		t.Fatalf("screen %d on %q, want the actions of readonly", m.screen, m.current.role.Name)
	}
	cmd := press(m, "c")
	if cmd == nil || m.Result() != (Result{Action: ActionConsole, Role: "readonly"}) {
		t.Fatalf("result %+v", m.Result())
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Error("choosing an action does not quit the picker")
	}
}

func TestCountdownFollowsInjectedClock(t *testing.T) {
	now := base
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	m := New(t.Context(), Options{Backend: &stubBackend{}, Now: func() time.Time { return now }, Renderer: r})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(loadedMsg{roles: unitRoles[:1], mine: []api.Request{{ID: "req_9", Role: "readonly", State: api.StateActive, EndsAt: base.Add(90 * time.Second)}}})
	if v := m.View(); !strings.Contains(v, "1m30s left") {
		t.Fatalf("view lacks the countdown:\n%s", v)
	}
	now = base.Add(61 * time.Second)
	if _, cmd := m.Update(tickMsg{}); cmd == nil {
		t.Error("a tick does not schedule the next one")
	}
	if v := m.View(); !strings.Contains(v, "29s left") {
		t.Fatalf("view after a minute lacks the new countdown:\n%s", v)
	}
	now = base.Add(2 * time.Minute)
	if v := m.View(); strings.Contains(v, "active") {
		t.Fatalf("an ended grant still shows as active:\n%s", v)
	}
}

func TestFormChecksPolicyBeforeSending(t *testing.T) {
	m, be := unitModel(t, nil)
	press(m, "down", "enter") // prod-admin
	if m.screen != screenForm {
		t.Fatalf("screen %d, want the form", m.screen)
	}
	press(m, "3", "h", "enter", "enter")
	if !strings.Contains(m.formErr, "longer than prod-admin allows (2h at most)") || m.focus != 0 {
		t.Fatalf("form error %q, focus %d", m.formErr, m.focus)
	}
	press(m, "esc")
	press(m, "enter")
	press(m, "enter", "enter") // default duration, empty reason
	if !strings.Contains(m.formErr, "reason is required") || len(be.created) != 0 {
		t.Fatalf("form error %q, created %v", m.formErr, be.created)
	}
	cmd := press(m, "f", "i", "x", "enter")
	if m.screen != screenWaiting || cmd == nil {
		t.Fatalf("screen %d after a valid form, want waiting", m.screen)
	}
	msg := cmd()
	if got := be.created; len(got) != 1 || got[0].Role != "prod-admin" || got[0].Reason != "fix" || got[0].DurationSeconds != 0 {
		t.Fatalf("created %+v", got)
	}
	m.Update(msg)
	if m.req.ID != "req_1" || !strings.Contains(m.View(), "waiting for approval: 0 of 1") {
		t.Fatalf("waiting view:\n%s", m.View())
	}
}

func TestDecisionArrivingChangesWaitingScreen(t *testing.T) {
	m, _ := unitModel(t, nil)
	pending := &api.Request{ID: "req_1", Role: "prod-admin", State: api.StatePending, ApprovalsNeeded: 1, Version: 1, DurationSeconds: 1800}
	m.Update(createdMsg{req: pending})
	gen := m.waitGen
	// An answer of an older poll is dropped.
	m.Update(changedMsg{gen: gen - 1, id: "req_1", req: &api.Request{ID: "req_1", State: api.StateDenied}})
	if m.screen != screenWaiting {
		t.Fatalf("a stale answer moved the screen to %d", m.screen)
	}
	approved := *pending
	approved.State, approved.Version = api.StateApproved, 2
	approved.StartsAt, approved.EndsAt = base, base.Add(30*time.Minute)
	approved.Approvals = []api.Decision{{By: "bob@example.com", Approve: true}}
	_, cmd := m.Update(changedMsg{gen: gen, id: "req_1", req: &approved})
	if m.screen != screenResult || cmd == nil {
		t.Fatalf("screen %d after approval, want the result", m.screen)
	}
	m.Update(cmd()) // credentials fetched
	v := m.View()
	for _, want := range []string{"prod-admin granted for 30m (approved by bob@example.com)", "Credentials are in your keyring", "aws --profile prod-admin"} {
		if !strings.Contains(v, want) {
			t.Errorf("result view lacks %q:\n%s", want, v)
		}
	}
	press(m, "enter")
	if m.screen != screenActions {
		t.Errorf("enter on the result goes to screen %d, want the actions", m.screen)
	}
}

func TestWaitErrorOffersRetryNotCrash(t *testing.T) {
	m, _ := unitModel(t, nil)
	m.Update(createdMsg{req: &api.Request{ID: "req_1", Role: "prod-admin", State: api.StatePending, Version: 1}})
	m.Update(changedMsg{gen: m.waitGen, id: "req_1", err: &apiclient.UnreachableError{URL: "http://127.0.0.1:1", Err: errors.New("connection refused")}})
	v := m.View()
	if !strings.Contains(v, "cannot reach the jit server") || !strings.Contains(v, "r retry") {
		t.Fatalf("view:\n%s", v)
	}
	if cmd := press(m, "r"); cmd == nil || m.waitErr != nil {
		t.Error("r does not poll again")
	}
	press(m, "ctrl+c")
	if m.Result().PendingID != "req_1" {
		t.Errorf("quitting while waiting does not hand back the pending id: %+v", m.Result())
	}
}

func TestLoadErrorShowsNextStep(t *testing.T) {
	m, _ := unitModel(t, nil)
	m.Update(loadedMsg{err: session.ErrLoginRequired})
	if v := m.View(); !strings.Contains(v, "not logged in — try: jit login") {
		t.Fatalf("view:\n%s", v)
	}
	m.Update(loadedMsg{err: &apiclient.ServerError{Status: 403, Body: api.Error{Code: api.CodeForbidden, Message: "not eligible", Hint: "ask an admin"}}})
	if v := m.View(); !strings.Contains(v, "! not eligible — try: ask an admin") {
		t.Fatalf("view:\n%s", v)
	}
}

func TestRecentRolesComeFirst(t *testing.T) {
	mru := &MRU{Path: t.TempDir() + "/sub/recent"}
	for _, r := range []string{"prod-admin", "billing"} {
		if err := mru.Touch(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := mru.Load(); strings.Join(got, ",") != "billing,prod-admin" {
		t.Fatalf("MRU = %v", got)
	}
	m, _ := unitModel(t, mru)
	var names []string
	for _, it := range m.roles.Items() {
		names = append(names, it.(roleItem).role.Name)
	}
	if strings.Join(names, ",") != "billing,prod-admin,readonly" {
		t.Errorf("order = %v, want recent roles first", names)
	}
}

func TestFilterMatchesAccountARNAndDescription(t *testing.T) {
	it := roleItem{role: unitRoles[2]}
	for _, q := range []string{"billing", "222222222222", "arn:aws:iam::2:role/billing", "invoices"} {
		if !strings.Contains(it.FilterValue(), q) {
			t.Errorf("filter value %q lacks %q", it.FilterValue(), q)
		}
	}
}

func TestResizeKeepsScreenWithinTerminal(t *testing.T) {
	m, _ := unitModel(t, nil)
	for _, size := range [][2]int{{80, 24}, {60, 15}, {120, 40}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, scr := range []func(){func() { m.screen = screenRoles }, func() { press(m, "enter") }} {
			scr()
			lines := strings.Split(m.View(), "\n")
			if len(lines) > size[1] {
				t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
			}
			for _, l := range lines {
				if w := lipgloss.Width(l); w > size[0] {
					t.Errorf("%dx%d: line of width %d: %q", size[0], size[1], w, l)
				}
			}
		}
		m.screen = screenRoles
	}
}

func TestApproverTabDenyNeedsReason(t *testing.T) {
	m, _ := unitModel(t, nil)
	m.Update(reviewMsg{reqs: []api.Request{{ID: "req_5", Requester: "alice@example.com", Role: "prod-admin", Reason: "deploy", DurationSeconds: 1800, ApprovalsNeeded: 1, CreatedAt: base.Add(-3 * time.Minute)}}})
	press(m, "tab")
	if m.screen != screenReview || !strings.Contains(m.View(), "alice@example.com → prod-admin for 30m · 0/1 approvals · 3m00s ago") {
		t.Fatalf("review view:\n%s", m.View())
	}
	press(m, "d")
	if cmd := press(m, "enter"); cmd != nil || !strings.Contains(m.decideNote, "needs a reason") {
		t.Fatalf("an empty denial was sent (note %q)", m.decideNote)
	}
	press(m, "esc", "tab")
	if m.screen != screenRoles {
		t.Errorf("tab from review goes to %d", m.screen)
	}
}

func TestLiveGrantAndReviewRowsShowRecordedActivity(t *testing.T) {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	m := New(t.Context(), Options{Backend: &stubBackend{}, Now: func() time.Time { return base }, Renderer: r})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 24})
	used := &api.Activity{Calls: 12, LastUse: base.Add(-2 * time.Minute)}
	m.Update(loadedMsg{roles: unitRoles[:2], mine: []api.Request{
		{ID: "req_9", Role: "readonly", State: api.StateActive, EndsAt: base.Add(10 * time.Minute), Activity: used},
	}})
	if v := m.View(); !strings.Contains(v, "12 calls, last 2m00s ago") {
		t.Fatalf("the live grant's row lacks its activity:\n%s", v)
	}
	m.Update(reviewMsg{reqs: []api.Request{{ID: "req_7", Requester: "alice@example.com", Role: "prod-admin", State: api.StatePending,
		ApprovalsNeeded: 1, CreatedAt: base, Activity: &api.Activity{Calls: 3, LastUse: base}}}})
	press(m, "tab")
	if v := m.View(); !strings.Contains(v, "3 calls, last 0s ago") {
		t.Fatalf("the review row lacks the request's activity:\n%s", v)
	}
}

func TestPickerFollowsAGrantAndSaysWhenItIsRevoked(t *testing.T) {
	m, _ := unitModel(t, nil)
	granted := &api.Request{ID: "req_9", Role: "readonly", State: api.StateActive, EndsAt: time.Now().Add(time.Hour), Version: 2}
	m.req = granted
	_, cmd := m.Update(credsMsg{role: "readonly"})
	if cmd == nil {
		t.Fatal("no command after the credentials arrived; want the grant watched")
	}
	// Still live after a long-poll: keep watching, no notice.
	if _, cmd := m.Update(grantMsg{req: granted}); cmd == nil || m.notice != "" {
		t.Fatalf("live grant: cmd %v, notice %q", cmd, m.notice)
	}
	revoked := *granted
	revoked.State, revoked.Version = api.StateRevoked, 3
	m.Update(grantMsg{req: &revoked})
	if !strings.Contains(m.notice, "req_9 for readonly is revoked; its cached credentials are wiped") {
		t.Errorf("notice = %q", m.notice)
	}
}
