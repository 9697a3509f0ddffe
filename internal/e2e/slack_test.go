package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/internal/fakeslack"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/notify/slack"
)

const (
	slackBotToken = "xoxb-e2e-bot-token"
	slackSecret   = "e2e-slack-signing-secret-0123456789"
	slackTeam     = "T0E2E"
)

// slackPolicy: "deploy" is read-only S3 that bob (by his confirmed email,
// the Slack button's identity) approves.
var slackPolicy = testenv.Policy(testenv.NewRole("deploy", "approvers", "{users: [bob@example.com]}",
	"max_duration", "1h", "session_policy", "|\n"+testenv.S3ReadSessionPolicy))

// slackWorld is a world whose server talks to the local Slack fake.
func slackWorld(t *testing.T) (*world, *fakeslack.Slack) {
	t.Helper()
	f, _ := fakeslack.New(t, slackBotToken)
	w := newWorldWith(t, worldOptions{policy: slackPolicy, slackAPIURL: f.URL + "/", extraConfig: `notify:
  slack:
    bot_token: ` + slackBotToken + `
    signing_secret: ` + slackSecret + `
    team_id: ` + slackTeam + `
    channel: "#access"
    approve_in_slack_by_email: true
`})
	f.Mu.Lock()
	for _, name := range []string{"alice", "bob"} {
		u := slackapi.User{ID: "U-" + strings.ToUpper(name), RealName: name, IsEmailConfirmed: true}
		u.Profile.Email = name + "@example.com"
		f.Users[u.ID] = u
	}
	f.Mu.Unlock()
	return w, f
}

// slackCall posts body to the server's Slack endpoint path, signed as Slack
// signs (at ts), and returns the status and the answer's body.
func slackCall(t *testing.T, w *world, path, body string, ts time.Time) (int, string) {
	t.Helper()
	return fakeslack.Post(t, w.server+path, slackSecret, ts, body)
}

func slashBody(f *fakeslack.Slack, user, text, conv string) string {
	return url.Values{"team_id": {slackTeam}, "user_id": {user}, "command": {"/jit"}, "text": {text},
		"trigger_id": {"trigger-" + conv}, "response_url": {f.ResponseURL(conv)}}.Encode()
}

func interaction(t *testing.T, cb slackapi.InteractionCallback) string {
	t.Helper()
	cb.Team = slackapi.Team{ID: slackTeam}
	return fakeslack.Interaction(t, cb)
}

func submission(t *testing.T, user string, values map[string]string) string {
	return fakeslack.Submission(t, slackTeam, user, slack.RequestCallback, "", slack.BlockRole, values)
}

// dmTo waits for a direct message to user containing words.
func dmTo(t *testing.T, f *fakeslack.Slack, user, words string) string {
	t.Helper()
	var got string
	if !f.WaitFor(time.Minute, func() bool {
		for _, m := range f.Messages {
			if m.Channel == user && strings.Contains(m.Text, words) {
				got = m.Text
				return true
			}
		}
		return false
	}) {
		var all []string
		f.Mu.Lock()
		for _, m := range f.Messages {
			all = append(all, m.Channel+": "+m.Text)
		}
		f.Mu.Unlock()
		t.Fatalf("no direct message to %s saying %q; messages: %q", user, words, all)
	}
	return got
}

var requestIDIn = regexp.MustCompile("`(req_[a-z0-9]+)`")

// TestFromSlackToAGrantUsedInTheCLI is issue 20's Slack path whole, with
// the built jit binary and real IdP logins: alice links her Slack account
// with `jit link slack CODE`, requests from the /jit form, bob approves
// with the message's button, alice is told alone, and the grant's
// credentials come to the CLI on alice's login (jit wait, then jit exec
// with the AWS CLI against MinIO).
func TestFromSlackToAGrantUsedInTheCLI(t *testing.T) {
	needAWSCLI(t)
	w, f := slackWorld(t)
	alice := w.user("alice")
	alice.login()

	// Before linking, /jit says how to link and opens no form.
	if st, _ := slackCall(t, w, slack.CommandsPath, slashBody(f, "U-ALICE", "", "c0"), time.Now()); st != http.StatusOK {
		t.Fatalf("/jit: %d", st)
	}
	if a := f.WaitResponse(t, "c0", 1); !strings.Contains(a.Text, "not linked") {
		t.Fatalf("/jit before linking: %+v", a)
	}
	// An unlinked account's form submission is refused too.
	if _, body := slackCall(t, w, slack.InteractivityPath, submission(t, "U-ALICE", map[string]string{slack.BlockRole: "deploy", slack.BlockReason: "x"}), time.Now()); !strings.Contains(body, "not linked") {
		t.Fatalf("an unlinked submission: %s", body)
	}

	// Link: /jit link → a code for alice alone → jit link slack CODE.
	slackCall(t, w, slack.CommandsPath, slashBody(f, "U-ALICE", "link", "c1"), time.Now())
	a := f.WaitResponse(t, "c1", 1)
	m := regexp.MustCompile("`([0-9A-Z]{5}-[0-9A-Z]{5})`").FindStringSubmatch(a.Text)
	if a.ResponseType != "ephemeral" || m == nil {
		t.Fatalf("/jit link answer %+v", a)
	}
	if out := alice.must("link", "slack", m[1]); !strings.Contains(out, "Linked Slack user U-ALICE (workspace "+slackTeam+") to alice@example.com") {
		t.Fatalf("jit link slack: %s", out)
	}
	// The code works once.
	if _, errOut, code := alice.run("link", "slack", m[1]); code == 0 || !strings.Contains(errOut, "unknown or was already used") {
		t.Fatalf("reusing the code: exit %d %s", code, errOut)
	}

	// /jit opens the form with the roles alice may request.
	slackCall(t, w, slack.CommandsPath, slashBody(f, "U-ALICE", "", "c2"), time.Now())
	if !f.WaitFor(30*time.Second, func() bool { return len(f.Views) == 1 }) {
		t.Fatalf("no form opened; answers %+v", f.ResponsesTo("c2"))
	}
	f.Mu.Lock()
	if f.Triggers[0] != "trigger-c2" {
		t.Errorf("views.open with trigger %q", f.Triggers[0])
	}
	f.Mu.Unlock()
	// A duration past the role's limit is shown next to the field.
	if _, body := slackCall(t, w, slack.InteractivityPath, submission(t, "U-ALICE", map[string]string{slack.BlockRole: "deploy", slack.BlockDuration: "3h", slack.BlockReason: "x"}), time.Now()); !strings.Contains(body, `"duration"`) {
		t.Fatalf("a too-long duration: %s", body)
	}
	st, body := slackCall(t, w, slack.InteractivityPath, submission(t, "U-ALICE", map[string]string{slack.BlockRole: "deploy", slack.BlockDuration: "20m", slack.BlockReason: "ship the fix"}), time.Now().Add(-time.Second))
	if st != http.StatusOK || strings.Contains(body, "errors") {
		t.Fatalf("submission: %d %s", st, body)
	}
	made := dmTo(t, f, "U-ALICE", "waits for 1 approval")
	id := requestIDIn.FindStringSubmatch(made)[1]
	// The request is alice's, as the CLI sees it.
	if r := alice.showJSON(id); r.Requester != "alice@example.com" || r.Role != "deploy" || r.Reason != "ship the fix" {
		t.Fatalf("jit show %s: %+v", id, r)
	}

	// bob approves with the button of the channel's message.
	var approve string // the Approve button's value: the request and the version it shows
	if !f.WaitFor(time.Minute, func() bool {
		for _, m := range f.Messages {
			if m.Channel != "#access" {
				continue
			}
			for _, b := range m.Blocks.BlockSet {
				if a, ok := b.(*slackapi.ActionBlock); ok {
					for _, e := range a.Elements.ElementSet {
						if btn, ok := e.(*slackapi.ButtonBlockElement); ok && btn.ActionID == slack.ActionApprove && strings.HasPrefix(btn.Value, id) {
							approve = btn.Value
						}
					}
				}
			}
		}
		return approve != ""
	}) {
		t.Fatal("no message with an Approve button for approvers in #access")
	}
	press := interaction(t, slackapi.InteractionCallback{Type: slackapi.InteractionTypeBlockActions, User: slackapi.User{ID: "U-BOB"},
		ActionCallback: slackapi.ActionCallbacks{BlockActions: []*slackapi.BlockAction{{ActionID: slack.ActionApprove, Value: approve}}}})
	if _, body := slackCall(t, w, slack.InteractivityPath, press, time.Now()); !strings.Contains(body, "You approved "+id) {
		t.Fatalf("bob's press: %s", body)
	}
	// The very same signed press again is a replay.
	if st, _ := slackCall(t, w, slack.InteractivityPath, press, time.Now()); st != http.StatusUnauthorized {
		t.Fatalf("replayed press: %d", st)
	}
	dmTo(t, f, "U-ALICE", "was approved by bob@example.com")

	// The grant comes to the CLI on alice's login.
	if out, errOut, code := alice.run("wait", id); code != 0 {
		t.Fatalf("jit wait %s: exit %d\n%s\n%s", id, code, out, errOut)
	}
	ls, errOut, code := alice.run("exec", "deploy", "--", awsCLI, "--endpoint-url", w.minio.Endpoint(), "--region", w.minio.Region(), "s3", "ls", "s3://"+w.bucket)
	if code != 0 {
		t.Fatalf("jit exec deploy -- aws s3 ls: exit %d\n%s\n%s", code, ls, errOut)
	}
	// Unlinking from the CLI: Slack no longer knows alice.
	if out := alice.must("link", "slack", "--remove"); !strings.Contains(out, "Unlinked 1") {
		t.Fatalf("jit link slack --remove: %s", out)
	}
	slackCall(t, w, slack.CommandsPath, slashBody(f, "U-ALICE", "", "c3"), time.Now())
	if a := f.WaitResponse(t, "c3", 1); !strings.Contains(a.Text, "not linked") {
		t.Fatalf("/jit after unlinking: %+v", a)
	}
}
