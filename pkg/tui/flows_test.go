package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/jit-access/jit/pkg/api"
)

// start runs the picker at 80×24 under teatest.
func start(t *testing.T, m *Model) *teatest.TestModel {
	t.Helper()
	return teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
}

func waitFor(t *testing.T, tm *teatest.TestModel, text string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(text)) },
		teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// waitForAll waits until the output read in this call holds every text
// (each WaitFor consumes what it reads, so two waits could miss a text
// drawn in the frame the first one read).
func waitForAll(t *testing.T, tm *teatest.TestModel, texts ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, text := range texts {
			if !bytes.Contains(b, []byte(text)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(20*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

func keys(tm *teatest.TestModel, ks ...tea.KeyType) {
	for _, k := range ks {
		tm.Send(tea.KeyMsg{Type: k})
	}
}

// final quits and returns the last screen, the golden material.
func final(t *testing.T, tm *teatest.TestModel) *Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
}

func TestRolesScreenShowsEveryRoleWithItsState(t *testing.T) {
	srv := startServer(t)
	// alice holds a live readonly grant (auto-approved) and a pending prod-admin request.
	alice := srv.client(t, "alice")
	if _, err := alice.Create(t.Context(), api.CreateRequest{Role: "readonly", Reason: "look at logs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Create(t.Context(), api.CreateRequest{Role: "prod-admin", Reason: "deploy"}); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.picker(t, "alice")
	tm := start(t, m)
	waitFor(t, tm, "oncall")
	fm := final(t, tm)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
}

func TestFilterRequestWaitApproved(t *testing.T) {
	srv := startServer(t)
	m, mru := srv.picker(t, "alice")
	tm := start(t, m)
	waitFor(t, tm, "oncall")

	tm.Type("/")
	tm.Type("prod-ad")
	waitFor(t, tm, "1 role")
	keys(tm, tea.KeyEnter) // apply the filter
	keys(tm, tea.KeyEnter) // open the form
	waitFor(t, tm, "Request prod-admin")
	tm.Type("45m")
	keys(tm, tea.KeyEnter)
	tm.Type("INC-7: restart the stuck deploy")
	keys(tm, tea.KeyEnter) // send
	waitFor(t, tm, "waiting for approval")

	// bob approves through the API; the waiting screen changes at once.
	bob := srv.client(t, "bob")
	if _, err := bob.Approve(context.Background(), "req_0001", 1, "go ahead"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tm, "Credentials are in your keyring")
	fm := final(t, tm)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
	if got := mru.Load(); len(got) != 1 || got[0] != "prod-admin" {
		t.Errorf("recent roles = %v, want [prod-admin]", got)
	}
}

func TestWaitingScreen(t *testing.T) {
	srv := startServer(t)
	m, _ := srv.picker(t, "alice")
	tm := start(t, m)
	waitFor(t, tm, "oncall")
	keys(tm, tea.KeyDown, tea.KeyEnter) // prod-admin
	waitFor(t, tm, "Request prod-admin")
	keys(tm, tea.KeyTab)
	tm.Type("deploy")
	keys(tm, tea.KeyEnter)
	waitFor(t, tm, "waiting for approval")
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
	if res := fm.Result(); res.PendingID != "req_0001" {
		t.Errorf("result = %+v, want the pending request req_0001", res)
	}
}

func TestFormScreenRefusesTooLong(t *testing.T) {
	srv := startServer(t)
	m, _ := srv.picker(t, "alice")
	tm := start(t, m)
	waitFor(t, tm, "oncall")
	keys(tm, tea.KeyDown, tea.KeyDown, tea.KeyDown, tea.KeyEnter) // oncall: break-glass
	waitFor(t, tm, "Request oncall")
	tm.Type("3h")
	keys(tm, tea.KeyEnter, tea.KeyEnter, tea.KeyEnter)
	waitFor(t, tm, "longer than")
	fm := final(t, tm)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
}

func TestActionsOnLiveGrantReturnChosenAction(t *testing.T) {
	srv := startServer(t)
	if _, err := srv.client(t, "alice").Create(t.Context(), api.CreateRequest{Role: "readonly", Reason: "logs"}); err != nil {
		t.Fatal(err)
	}
	m, mru := srv.picker(t, "alice")
	tm := start(t, m)
	waitFor(t, tm, "oncall")
	keys(tm, tea.KeyEnter) // readonly is first and live
	waitFor(t, tm, "Exec a shell")
	keys(tm, tea.KeyDown)
	tm.Type("x")
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
	if res := fm.Result(); res.Action != ActionExports || res.Role != "readonly" {
		t.Errorf("result = %+v, want exports for readonly", res)
	}
	if got := mru.Load(); len(got) == 0 || got[0] != "readonly" {
		t.Errorf("recent roles = %v, want readonly first", got)
	}
}

func TestApproverApproves(t *testing.T) {
	srv := startServer(t)
	if _, err := srv.client(t, "alice").Create(t.Context(), api.CreateRequest{Role: "prod-admin", Reason: "INC-9 hotfix", DurationSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.picker(t, "bob")
	tm := start(t, m)
	waitFor(t, tm, "oncall")
	keys(tm, tea.KeyTab)
	waitFor(t, tm, "alice@example.com")
	tm.Type("a")
	waitFor(t, tm, "comment:")
	tm.Type("ok, watch the error rate")
	keys(tm, tea.KeyEnter)
	// The review list reloads after the approval; under load the reload
	// lands after the notice, so wait for both before the golden.
	waitForAll(t, tm, "Approved alice", "Nothing waits for your review")
	fm := final(t, tm)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
	got, err := srv.client(t, "alice").Get(t.Context(), "req_0001")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != api.StateApproved || len(got.Approvals) != 1 || got.Approvals[0].Comment != "ok, watch the error rate" {
		t.Errorf("request after approval = %s %+v", got.State, got.Approvals)
	}
}

func TestApproverDenyNeedsReason(t *testing.T) {
	srv := startServer(t)
	if _, err := srv.client(t, "alice").Create(t.Context(), api.CreateRequest{Role: "prod-admin", Reason: "curious"}); err != nil {
		t.Fatal(err)
	}
	m, _ := srv.picker(t, "bob")
	tm := start(t, m)
	waitFor(t, tm, "oncall")
	keys(tm, tea.KeyTab)
	waitFor(t, tm, "alice@example.com")
	tm.Type("d")
	waitFor(t, tm, "reason:")
	keys(tm, tea.KeyEnter)
	waitFor(t, tm, "A denial needs a reason")
	fm := final(t, tm)
	teatest.RequireEqualOutput(t, []byte(fm.View()))
}
