package slack_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeslack"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/slacklink"
	"github.com/jit-access/jit/pkg/store"
)

// withLinks turns the slash command on, with links on the sink's store.
func withLinks(t *testing.T, links **slacklink.Service) func(*slack.Options) {
	return func(o *slack.Options) {
		l, err := slacklink.New(slacklink.Options{Store: o.Store, TeamID: teamID})
		if err != nil {
			t.Fatal(err)
		}
		o.Links = l
		if links != nil {
			*links = l
		}
	}
}

// slash sends a /jit call signed like Slack does (secret, at ts), from
// teamID's user; the answer goes to the fake's response_url conv.
func slash(t *testing.T, jitURL string, f *fakeslack.Slack, secret string, ts time.Time, team, user, text, conv string) int {
	t.Helper()
	body := url.Values{"token": {"deprecated"}, "team_id": {team}, "user_id": {user}, "command": {"/jit"}, "text": {text},
		"trigger_id": {"13345224609.738474920.8088930838d88f008e0"}, "response_url": {f.ResponseURL(conv)}}.Encode()
	status, _ := fakeslack.Post(t, jitURL+slack.CommandsPath, secret, ts, body)
	return status
}

var linkCode = regexp.MustCompile("`([0-9A-Z]{5}-[0-9A-Z]{5})`")

func TestSlashCommandLinkGivesTheCallerAloneAOneTimeCodeThatLinksTheirAccount(t *testing.T) {
	var links *slacklink.Service
	s, f, st, jit := setup(t, withLinks(t, &links))
	f.Mu.Lock()
	alice := f.Users["U-ALICE"]
	alice.ID, alice.IsEmailConfirmed = "U-ALICE", true
	alice.Profile.Email = "alice@example.com"
	f.Users["U-ALICE"] = alice
	f.Mu.Unlock()

	start := time.Now()
	if resp := slash(t, jit.URL, f, signingSecret, time.Now(), teamID, "U-ALICE", "link", "c1"); resp != http.StatusOK {
		t.Fatalf("/jit link: %d", resp)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("/jit link answered after %v; Slack gives up after 3 s", d)
	}
	a := f.WaitResponse(t, "c1", 1)
	m := linkCode.FindStringSubmatch(a.Text)
	if a.ResponseType != "ephemeral" || m == nil || !strings.Contains(a.Text, "jit link slack "+m[1]) {
		t.Fatalf("answer %+v: want an ephemeral one-time code and the command to run", a)
	}
	s.Wait()
	// The code, redeemed by a principal whose verified email is the one
	// Slack confirmed, links U-ALICE.
	u := api.User{Issuer: "https://idp.example.com", Subject: "u-alice", Email: "alice@example.com", Username: "alice@example.com"}
	if _, err := links.Redeem(context.Background(), u, m[1], "api"); err != nil {
		t.Fatal(err)
	}
	if l, err := links.Lookup(context.Background(), teamID, "U-ALICE"); err != nil || l.User.Subject != "u-alice" {
		t.Fatalf("lookup %+v, %v", l, err)
	}
	// /jit unlink answers alone too, and removes the link.
	slash(t, jit.URL, f, signingSecret, time.Now(), teamID, "U-ALICE", "unlink", "c2")
	if a := f.WaitResponse(t, "c2", 1); a.ResponseType != "ephemeral" || !strings.Contains(a.Text, "no longer linked to alice@example.com") {
		t.Fatalf("unlink answer %+v", a)
	}
	s.Wait()
	if _, err := st.SlackLink(context.Background(), teamID, "U-ALICE"); err != store.ErrNotFound {
		t.Fatalf("after /jit unlink: %v", err)
	}
}

func TestSlashCommandTellsAnUnlinkedUserExactlyHowToLink(t *testing.T) {
	_, f, _, jit := setup(t, withLinks(t, nil))
	for i, text := range []string{"", "request"} {
		conv := "c" + string(rune('0'+i))
		slash(t, jit.URL, f, signingSecret, time.Now().Add(-time.Duration(i)*time.Second), teamID, "U-NEW", text, conv)
		a := f.WaitResponse(t, conv, 1)
		if a.ResponseType != "ephemeral" || !strings.Contains(a.Text, "not linked") || !strings.Contains(a.Text, "`/jit link`") ||
			!strings.Contains(a.Text, "jit link slack CODE") {
			t.Fatalf("/jit %q answer to an unlinked user: %+v", text, a)
		}
	}
	f.Mu.Lock()
	defer f.Mu.Unlock()
	if len(f.Views) != 0 || len(f.Messages) != 0 {
		t.Fatalf("an unlinked user got a form (%d) or a message (%d)", len(f.Views), len(f.Messages))
	}
}

func TestSlashCommandRefusesForgedStaleReplayedAndOtherWorkspaceCalls(t *testing.T) {
	_, f, _, jit := setup(t, withLinks(t, nil))
	now := time.Now()
	cases := []struct {
		name   string
		secret string
		ts     time.Time
		team   string
		want   int
	}{
		{"another secret", "not-the-secret", now, teamID, http.StatusUnauthorized},
		{"stale timestamp", signingSecret, now.Add(-6 * time.Minute), teamID, http.StatusUnauthorized},
		{"timestamp from the future", signingSecret, now.Add(6 * time.Minute), teamID, http.StatusUnauthorized},
		{"another workspace", signingSecret, now.Add(-time.Second), "T0OTHER", http.StatusForbidden},
	}
	for _, c := range cases {
		if resp := slash(t, jit.URL, f, c.secret, c.ts, c.team, "U1", "link", "refused"); resp != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp, c.want)
		}
	}
	if resp := slash(t, jit.URL, f, signingSecret, now, teamID, "U1", "link", "ok"); resp != http.StatusOK {
		t.Fatalf("valid call: %d", resp)
	}
	f.WaitResponse(t, "ok", 1)
	// The very same signed call again: a replay.
	if resp := slash(t, jit.URL, f, signingSecret, now, teamID, "U1", "link", "ok"); resp != http.StatusUnauthorized {
		t.Errorf("replayed: %d", resp)
	}
	time.Sleep(200 * time.Millisecond)
	if rs := f.ResponsesTo("refused"); len(rs) != 0 {
		t.Fatalf("refused calls were answered: %+v", rs)
	}
	if rs := f.ResponsesTo("ok"); len(rs) != 1 {
		t.Fatalf("the replay was answered again: %+v", rs)
	}
}
