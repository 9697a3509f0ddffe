package slack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/store/postgres"
)

// signature is Slack's v0 signature of a press, in lower-case hex.
func signature(ts time.Time, payload string) string {
	body := url.Values{"payload": {payload}}.Encode()
	m := hmac.New(sha256.New, []byte(signingSecret))
	fmt.Fprintf(m, "v0:%s:%s", strconv.FormatInt(ts.Unix(), 10), body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// TestInteractivityRefusesReCasedSignatureReplay: the replay guard used to
// key on the raw X-Slack-Signature header, but verification accepts the hex
// in any case, so the same call with its signature upper-cased was accepted
// again. The key is now (timestamp, SHA-256 of the body).
func TestInteractivityRefusesReCasedSignatureReplay(t *testing.T) {
	_, _, _, jit := setup(t, nil)
	now := time.Now()
	payload := pressPayload(t, "", slack.ActionApprove, "req_01", "U1")
	sig := signature(now, payload)
	if resp, body := call(t, jit.URL, signingSecret, now, payload, sig); resp.StatusCode != http.StatusOK {
		t.Fatalf("first call: %d %s", resp.StatusCode, body)
	}
	recased := "v0=" + strings.ToUpper(strings.TrimPrefix(sig, "v0="))
	if resp, _ := call(t, jit.URL, signingSecret, now, payload, recased); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay with the signature re-cased: HTTP %d, want 401", resp.StatusCode)
	}
	// A new press (another body) at the same second is not a replay.
	other := pressPayload(t, "", slack.ActionDeny, "req_01", "U1")
	if resp, body := call(t, jit.URL, signingSecret, now, other, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("another press in the same second: %d %s", resp.StatusCode, body)
	}
}

// TestInteractivityReplayToSecondReplicaOnSamePostgresRefused: the replay
// memory used to be per process, so each replica accepted a replay once.
// Two sinks (two servers) on one PostgreSQL now share it.
func TestInteractivityReplayToSecondReplicaOnSamePostgresRefused(t *testing.T) {
	dsn := testenv.Postgres(t)
	var urls []string
	for range 2 {
		st, err := postgres.Open(context.Background(), dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		_, _, _, jit := setupOn(t, st, nil)
		urls = append(urls, jit.URL)
	}
	now := time.Now()
	payload := pressPayload(t, "", slack.ActionApprove, "req_01", "U1")
	if resp, body := call(t, urls[0], signingSecret, now, payload, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("first replica: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, urls[1], signingSecret, now, payload, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay to the second replica: HTTP %d, want 401", resp.StatusCode)
	}
}

// TestInteractivityFromAnotherWorkspaceRefused: a signing secret belongs to
// the app, which may be installed in several workspaces; a press whose
// team.id is not the configured workspace decides and answers nothing.
func TestInteractivityFromAnotherWorkspaceRefused(t *testing.T) {
	decided := false
	_, _, _, jit := setup(t, func(o *slack.Options) {
		o.ApproveByEmail = true
		o.Decide = func(context.Context, api.User, string, int64, bool, string) error { decided = true; return nil }
	})
	for _, team := range []string{"T0OTHER", ""} {
		cb := slackapi.InteractionCallback{
			Type: slackapi.InteractionTypeBlockActions, User: slackapi.User{ID: "U1"}, Team: slackapi.Team{ID: team},
			ActionCallback: slackapi.ActionCallbacks{BlockActions: []*slackapi.BlockAction{{ActionID: slack.ActionApprove, Value: "req_01"}}},
		}
		b, _ := json.Marshal(cb)
		if resp, body := call(t, jit.URL, signingSecret, time.Now(), string(b), ""); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("team %q: HTTP %d %s, want 403", team, resp.StatusCode, body)
		}
	}
	if decided {
		t.Fatal("a press from another workspace decided")
	}
}

func TestInteractivityNeedsTeamID(t *testing.T) {
	_, _, st, _ := setup(t, nil)
	_, err := slack.New(slack.Options{Store: st, BotToken: botToken, SigningSecret: signingSecret, Channel: "#c",
		Client: http.DefaultClient, Now: time.Now})
	if err == nil || !strings.Contains(err.Error(), "team id") {
		t.Fatalf("New with a signing secret and no team id = %v, want refused", err)
	}
}

func TestSlackMessageShowsAnExtensionWaitingForApprovers(t *testing.T) {
	r := &api.Request{ID: "req_01", Requester: "alice@example.com", Role: "oncall", State: api.StateActive, BreakGlass: true,
		EndsAt:           time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		PendingExtension: &api.Extension{DurationSeconds: 3600, ApprovalsNeeded: 1, Why: "past break_glass.max_duration of 30m"}}
	got := marshal(slackapi.Blocks{BlockSet: slack.Blocks(r, "")})
	for _, want := range []string{"Extension by 1h0m0s waits for approval (0 of 1)", "break_glass.max_duration of 30m", "jit approve req_01"} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}
}

// TestInteractivityReplayAfterAnotherReplicaPrunedItsKeyRefused: a replay
// key was kept only until timestamp+5m, the very end of the window. A
// replica whose clock runs a little behind still accepts the timestamp
// after a replica with the right time has pruned the key (any later press
// prunes), so the replay went through there. Keys now outlive the window
// by another window (replica clocks that agree within 5 minutes).
func TestInteractivityReplayAfterAnotherReplicaPrunedItsKeyRefused(t *testing.T) {
	_, _, st, _ := setup(t, nil)
	// The Slack library checks timestamps against the real clock too: the
	// press is stamped near the end of its real window, the replicas'
	// injected clocks do the rest.
	t0 := time.Now().Add(-slack.Window + 15*time.Second).Truncate(time.Second)
	nowA, nowB := time.Now(), time.Now()
	_, _, _, a := setupOn(t, st, func(o *slack.Options) { o.Now = func() time.Time { return nowA } })
	_, _, _, b := setupOn(t, st, func(o *slack.Options) { o.Now = func() time.Time { return nowB } })
	payload := pressPayload(t, "", slack.ActionApprove, "req_01", "U1")
	if resp, body := call(t, a.URL, signingSecret, t0, payload, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the press: %d %s", resp.StatusCode, body)
	}
	// Replica A, on time, takes another press just after the window:
	// that prunes what has expired.
	nowA = t0.Add(slack.Window + time.Second)
	other := pressPayload(t, "", slack.ActionDeny, "req_02", "U1")
	if resp, body := call(t, a.URL, signingSecret, time.Now(), other, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("a later press: %d %s", resp.StatusCode, body)
	}
	// Replica B's clock is two minutes behind: t0 is inside its window.
	nowB = nowA.Add(-2 * time.Minute)
	if resp, _ := call(t, b.URL, signingSecret, t0, payload, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay to a replica two minutes behind after the key was pruned: HTTP %d, want 401", resp.StatusCode)
	}
}

func TestSlackMessageSaysAnAgentMadeTheRequest(t *testing.T) {
	r := &api.Request{ID: "req_02", Requester: "alice@example.com", Role: "readonly", State: api.StatePending, Agent: "claude-code"}
	got := marshal(slackapi.Blocks{BlockSet: slack.Blocks(r, "")})
	for _, want := range []string{"by an AI agent", "asked by agent claude-code on their behalf"} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}
}
