package slack_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/internal/fakeslack"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/storetest"
)

const (
	botToken      = "xoxb-test-token"
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
)

// newFakeSlack starts the local Slack fake (internal/fakeslack).
func newFakeSlack(t testing.TB) (*fakeslack.Slack, *httptest.Server) {
	return fakeslack.New(t, botToken)
}

func setup(t testing.TB, mutate func(*slack.Options)) (*slack.Sink, *fakeslack.Slack, store.Store, *httptest.Server) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return setupOn(t, st, mutate)
}

// teamID is the workspace the tests' sinks accept presses from.
const teamID = "T0JIT"

// setupOn is setup on a given store (a second replica shares one).
func setupOn(t testing.TB, st store.Store, mutate func(*slack.Options)) (*slack.Sink, *fakeslack.Slack, store.Store, *httptest.Server) {
	t.Helper()
	f, srv := newFakeSlack(t)
	o := slack.Options{
		Store: st, BotToken: botToken, SigningSecret: signingSecret, TeamID: teamID, Channel: "#jit-requests",
		RoleChannel: func(role string) string {
			if role == "prod-admin" {
				return "#prod-access"
			}
			return ""
		},
		PublicURL: "https://jit.example.com", APIURL: srv.URL + "/", Client: srv.Client(), Now: time.Now,
		ResponseURLPrefix: srv.URL + "/",
	}
	if mutate != nil {
		mutate(&o)
	}
	s, err := slack.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Wait) // before the store closes: what commands and forms do after their answer
	mux := http.NewServeMux()
	s.Register(mux)
	jit := httptest.NewServer(mux)
	t.Cleanup(jit.Close)
	return s, f, st, jit
}

// deliverAll runs dispatcher rounds until the log is delivered (one
// dispatcher per test: it keeps the sink's lease).
func deliverAll(t *testing.T, d *notify.Dispatcher, st store.Store) {
	t.Helper()
	for {
		r, err := d.Once(context.Background())
		if err != nil || !r.RetryAt.IsZero() || r.Failed > 0 {
			failed, _ := st.Audit(context.Background(), store.AuditFilter{Type: "notify.failed"})
			t.Fatalf("round %+v: %v %+v", r, err, failed)
		}
		if !r.More {
			return
		}
	}
}

// marshal collects the blocks' text as Slack shows it, one string.
func marshal(v any) string {
	raw, _ := json.Marshal(v)
	var tree any
	json.Unmarshal(raw, &tree) //nolint:errcheck
	var b strings.Builder
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		case string:
			b.WriteString(n + "\n")
		}
	}
	walk(tree)
	return b.String()
}

func buttons(b slackapi.Blocks) map[string]string {
	out := map[string]string{}
	for _, bl := range b.BlockSet {
		if a, ok := bl.(*slackapi.ActionBlock); ok {
			for _, e := range a.Elements.ElementSet {
				if btn, ok := e.(*slackapi.ButtonBlockElement); ok {
					out[btn.ActionID] = btn.Value
				}
			}
		}
	}
	return out
}

func TestSlackPostsOneMessagePerRequestAndUpdatesItInPlace(t *testing.T) {
	s, f, st, _ := setup(t, nil)
	ctx := context.Background()
	st.DeliveryCursor(ctx, s.Name()) //nolint:errcheck
	d, err := notify.NewDispatcher(notify.DispatcherOptions{Store: st, Sink: s})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	r := storetest.NewRequest("req_01", "dev@example.com", "prod-admin", t0)
	r.Reason = "fix <prod> & deploy"
	if err := st.Create(ctx, r, []audit.Event{storetest.CreatedEvent(r)}); err != nil {
		t.Fatal(err)
	}
	other := storetest.NewRequest("req_02", "dev@example.com", "readonly", t0)
	if err := st.Create(ctx, other, []audit.Event{storetest.CreatedEvent(other)}); err != nil {
		t.Fatal(err)
	}
	deliverAll(t, d, st)

	f.Mu.Lock()
	if len(f.Messages) != 2 {
		t.Fatalf("%d messages, want one per request", len(f.Messages))
	}
	m := f.Messages["1700000000.000001"]
	if m.Channel != "#prod-access" || f.Messages["1700000000.000002"].Channel != "#jit-requests" {
		t.Fatalf("channels %q, %q: want the role's channel, else the default", m.Channel, f.Messages["1700000000.000002"].Channel)
	}
	if b := buttons(m.Blocks); b[slack.ActionApprove] != "req_01@1" || b[slack.ActionDeny] != "req_01@1" { // id@version shown
		t.Fatalf("buttons %v", b)
	}
	raw := marshal(m.Blocks)
	for _, want := range []string{"dev@example.com", "prod-admin", "1h0m0s", "Request expires", "fix &lt;prod&gt; &amp; deploy"} {
		if !strings.Contains(raw, want) {
			t.Errorf("message lacks %q: %s", want, raw)
		}
	}
	f.Mu.Unlock()

	if _, err := st.Update(ctx, "req_01", storetest.Approve("boss@example.com", t0.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, audit.Event{Time: t0, Type: notify.TypeGrantEndingSoon, Actor: "server", Subject: r.Requester, Role: r.Role, RequestID: r.ID}); err != nil {
		t.Fatal(err)
	}
	deliverAll(t, d, st)
	f.Mu.Lock()
	defer f.Mu.Unlock()
	m = f.Messages["1700000000.000001"]
	if f.Updates != 1 || len(f.Messages) != 2 {
		t.Fatalf("updates %d, messages %d: want the approval to update the message in place", f.Updates, len(f.Messages))
	}
	if b := buttons(m.Blocks); len(b) != 0 {
		t.Errorf("a decided request still shows buttons %v", b)
	}
	raw = marshal(m.Blocks)
	if !strings.Contains(raw, "approved by boss@example.com") {
		t.Errorf("updated message lacks the decision: %s", raw)
	}
	reps := f.Replies["1700000000.000001"]
	if len(reps) != 1 || !strings.Contains(reps[0], "jit extend req_01 --for") || !strings.Contains(reps[0], "dev@example.com") {
		t.Errorf("reminder thread replies %q", reps)
	}
}

// call sends an interactivity request signed like Slack does.
func call(t *testing.T, jitURL, secret string, ts time.Time, payload string, sig string) (*http.Response, string) {
	t.Helper()
	body := url.Values{"payload": {payload}}.Encode()
	stamp := strconv.FormatInt(ts.Unix(), 10)
	if sig == "" {
		m := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(m, "v0:%s:%s", stamp, body)
		sig = "v0=" + hex.EncodeToString(m.Sum(nil))
	}
	req, _ := http.NewRequest(http.MethodPost, jitURL+slack.InteractivityPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func pressPayload(t *testing.T, responseURL, action, id, user string) string {
	t.Helper()
	cb := slackapi.InteractionCallback{
		Type: slackapi.InteractionTypeBlockActions, ResponseURL: responseURL,
		User: slackapi.User{ID: user}, Team: slackapi.Team{ID: teamID},
		ActionCallback: slackapi.ActionCallbacks{BlockActions: []*slackapi.BlockAction{{ActionID: action, Value: id}}},
	}
	b, err := json.Marshal(cb)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInteractivityRefusesForgedStaleAndReplayedCalls(t *testing.T) {
	_, f, _, jit := setup(t, nil)
	payload := pressPayload(t, "", slack.ActionApprove, "req_01", "U1")
	now := time.Now()

	if resp, _ := call(t, jit.URL, "not-the-secret", now, payload, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged (other secret): %d", resp.StatusCode)
	}
	if resp, _ := call(t, jit.URL, signingSecret, now, payload, "v0="+strings.Repeat("0", 64)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged (bad signature): %d", resp.StatusCode)
	}
	if resp, _ := call(t, jit.URL, signingSecret, now.Add(-6*time.Minute), payload, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stale: %d", resp.StatusCode)
	}
	if resp, _ := call(t, jit.URL, signingSecret, now.Add(6*time.Minute), payload, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("from the future: %d", resp.StatusCode)
	}
	resp, body := call(t, jit.URL, signingSecret, now, payload, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid call: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, jit.URL, signingSecret, now, payload, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed: %d", resp.StatusCode)
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.Messages) != 0 {
		t.Error("a button press posted a message")
	}
}

func TestButtonPressAnswersWithTheApproverLinkAndDecidesNothing(t *testing.T) {
	decided := false
	_, f, _, jit := setup(t, func(o *slack.Options) {
		o.Decide = func(context.Context, api.User, string, int64, bool, string) error { decided = true; return nil }
	})
	respURL := f.URL + "/response" // the allowed response_url prefix, in tests the fake
	resp, body := call(t, jit.URL, signingSecret, time.Now(), pressPayload(t, respURL, slack.ActionApprove, "req_01", "U1"), "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var a slack.Answer
	if err := json.Unmarshal([]byte(body), &a); err != nil || a.ResponseType != "ephemeral" ||
		!strings.Contains(a.Text, "https://jit.example.com/approve/req_01") {
		t.Fatalf("answer %+v (%v)", a, err)
	}
	if decided {
		t.Fatal("a button press decided without the opt-in")
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.Responses) != 1 || f.Responses[0].Text != a.Text {
		t.Fatalf("response_url got %+v", f.Responses)
	}
}

func TestApproveInSlackByEmailMapsConfirmedEmailsOnly(t *testing.T) {
	type decision struct {
		user    api.User
		id      string
		approve bool
	}
	var got []decision
	_, f, _, jit := setup(t, func(o *slack.Options) {
		o.ApproveByEmail = true
		o.Decide = func(_ context.Context, u api.User, id string, _ int64, approve bool, _ string) error {
			got = append(got, decision{u, id, approve})
			return nil
		}
	})
	f.Mu.Lock()
	ok := slackapi.User{ID: "U1", RealName: "Boss", IsEmailConfirmed: true}
	ok.Profile.Email = "Boss@Example.com"
	unconfirmed := slackapi.User{ID: "U2"}
	unconfirmed.Profile.Email = "boss@example.com"
	f.Users["U1"], f.Users["U2"] = ok, unconfirmed
	f.Mu.Unlock()

	_, body := call(t, jit.URL, signingSecret, time.Now(), pressPayload(t, "", slack.ActionApprove, "req_01", "U1"), "")
	if len(got) != 1 || got[0].user.ID() != "boss@example.com" || got[0].id != "req_01" || !got[0].approve || len(got[0].user.Groups) != 0 {
		t.Fatalf("decisions %+v (answer %s)", got, body)
	}
	_, body = call(t, jit.URL, signingSecret, time.Now().Add(-time.Second), pressPayload(t, "", slack.ActionApprove, "req_01", "U2"), "")
	if len(got) != 1 || !strings.Contains(body, "/approve/req_01") {
		t.Fatalf("an unconfirmed email decided: %+v, answer %s", got, body)
	}
}

// TestSetSecretsRotatesTheSigningSecret: after a reload rotated the signing
// secret (SetSecrets), a call signed with the old secret is refused and one
// signed with the new secret is accepted.
func TestSetSecretsRotatesTheSigningSecret(t *testing.T) {
	s, _, _, jit := setup(t, nil)
	now := time.Now()
	s.SetSecrets(botToken, "rotated-signing-secret")
	if resp, _ := call(t, jit.URL, signingSecret, now, pressPayload(t, "", slack.ActionApprove, "req_01", "U1"), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed with the old secret after rotation: %d", resp.StatusCode)
	}
	if resp, body := call(t, jit.URL, "rotated-signing-secret", now, pressPayload(t, "", slack.ActionApprove, "req_02", "U1"), ""); resp.StatusCode != http.StatusOK {
		t.Errorf("signed with the new secret: %d %s", resp.StatusCode, body)
	}
}

// TestCallSignedWithAnEmptySecretRefusedAfterAReloadRemovedIt: when a
// reload drops signing_secret, the endpoint (mounted at start) must not
// verify calls against an empty HMAC key, which anyone can compute.
func TestCallSignedWithAnEmptySecretRefusedAfterAReloadRemovedIt(t *testing.T) {
	s, _, _, jit := setup(t, nil)
	s.SetSecrets(botToken, "")
	if resp, _ := call(t, jit.URL, "", time.Now(), pressPayload(t, "", slack.ActionApprove, "req_01", "U1"), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("call signed with an empty secret: %d", resp.StatusCode)
	}
}

// TestApproveInSlackByKelvinSignEmailNotLoweredIntoAnotherName: a Slack
// account whose confirmed email is "\u212Aate@example.com" (KELVIN SIGN) is
// not kate@example.com. strings.ToLower mapped the sign to k, so the button
// press decided under kate's name and matched policy entries for her.
func TestApproveInSlackByKelvinSignEmailNotLoweredIntoAnotherName(t *testing.T) {
	var got []api.User
	_, f, _, jit := setup(t, func(o *slack.Options) {
		o.ApproveByEmail = true
		o.Decide = func(_ context.Context, u api.User, _ string, _ int64, _ bool, _ string) error {
			got = append(got, u)
			return nil
		}
	})
	f.Mu.Lock()
	lookalike := slackapi.User{ID: "U9", RealName: "Not Kate", IsEmailConfirmed: true}
	lookalike.Profile.Email = "\u212Aate@Example.com"
	f.Users["U9"] = lookalike
	f.Mu.Unlock()
	_, body := call(t, jit.URL, signingSecret, time.Now(), pressPayload(t, "", slack.ActionApprove, "req_01", "U9"), "")
	if len(got) != 1 || got[0].ID() != "\u212Aate@example.com" || api.SameName(got[0].ID(), "kate@example.com") {
		t.Fatalf("decisions %+v (answer %s)", got, body)
	}
}

// TestButtonPressShowsNoInternalErrorDetail: a decision that fails inside
// the server (a database error naming a host and user) is told to the
// presser as an internal error; the detail stays in the server's log.
func TestButtonPressShowsNoInternalErrorDetail(t *testing.T) {
	_, f, _, jit := setup(t, func(o *slack.Options) {
		o.ApproveByEmail = true
		o.Decide = func(context.Context, api.User, string, int64, bool, string) error {
			return errors.New("pq: password authentication failed for user \"jit\" at 10.0.0.5:5432")
		}
	})
	f.Mu.Lock()
	u := slackapi.User{ID: "U1", RealName: "Boss", IsEmailConfirmed: true}
	u.Profile.Email = "boss@example.com"
	f.Users["U1"] = u
	f.Mu.Unlock()
	_, body := call(t, jit.URL, signingSecret, time.Now(), pressPayload(t, "", slack.ActionApprove, "req_01", "U1"), "")
	if strings.Contains(body, "pq:") || strings.Contains(body, "10.0.0.5") || !strings.Contains(body, "internal error") {
		t.Fatalf("answer %s: want the internal error without its detail", body)
	}
}
