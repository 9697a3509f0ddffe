package notifier

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// TestSlackSelfApprovalFromAnotherChannelRefused: a Slack button press
// carries only the presser's confirmed email, not an IdP principal. Bob's
// own request is refused to bob's Slack account, and a request whose
// requester's token had no verified email cannot be decided from Slack at
// all (bob could have made it with a second, email-less token).
func TestSlackSelfApprovalFromAnotherChannelRefused(t *testing.T) {
	const src = `
roles:
  - name: prod
    arn: arn:aws:iam::123456789012:role/prod
    eligible: {groups: [developers]}
    approvers: {users: [bob@example.com, carol@example.com]}
`
	pol, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	decide := decider(Options{Store: st, Policy: func() *policy.Policy { return pol }, Now: func() time.Time { return now }})

	const iss = "https://idp.example.com"
	bob := api.User{Issuer: iss, Subject: "u-bob", Email: "bob@example.com", Username: "bob@example.com", Groups: []string{"developers"}}
	bobNoEmail := api.User{Issuer: iss, Subject: "u-bob", Groups: []string{"developers"}}
	slackUser := func(email string) api.User {
		return api.User{Issuer: slack.SlackIssuer, Subject: "slack-user:" + email, Email: email, Username: email}
	}
	create := func(id string, u api.User) {
		r, evs := lifecycle.New(lifecycle.NewInput{ID: id, Requester: u.ID(), RequesterUser: u,
			Create: api.CreateRequest{Role: "prod", Reason: "x"}, Duration: time.Hour, ApprovalsNeeded: 1, PendingTimeout: time.Hour}, now)
		if err := st.Create(context.Background(), r, evs); err != nil {
			t.Fatal(err)
		}
	}
	create("with-email", bob)
	create("no-email", bobNoEmail)

	if err := decide(context.Background(), slackUser("bob@example.com"), "with-email", true, "via Slack"); err == nil || !strings.Contains(err.Error(), "never approves their own") {
		t.Fatalf("bob approved his own request from Slack: %v", err)
	}
	if err := decide(context.Background(), slackUser("bob@example.com"), "no-email", true, "via Slack"); err == nil || !strings.Contains(err.Error(), "no verified email") {
		t.Fatalf("a request without the requester's email was decided from Slack: %v", err)
	}
	if err := decide(context.Background(), slackUser("carol@example.com"), "with-email", true, "via Slack"); err != nil {
		t.Fatalf("carol approving from Slack: %v", err)
	}
	got, _ := st.Get(context.Background(), "with-email")
	if got.State != api.StateApproved || got.Approvals[0].Issuer != slack.SlackIssuer || got.Approvals[0].Email != "carol@example.com" {
		t.Fatalf("after carol's Slack approval: %+v", got)
	}
}
