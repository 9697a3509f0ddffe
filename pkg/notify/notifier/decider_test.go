package notifier

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
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
	svc := service(t, st, pol, now)
	decide := Decider(svc)

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

	if err := decide(context.Background(), slackUser("bob@example.com"), "with-email", 1, true, "via Slack"); err == nil || !strings.Contains(err.Error(), "never approves their own") {
		t.Fatalf("bob approved his own request from Slack: %v", err)
	}
	if err := decide(context.Background(), slackUser("bob@example.com"), "no-email", 1, true, "via Slack"); err == nil || !strings.Contains(err.Error(), "no verified email") {
		t.Fatalf("a request without the requester's email was decided from Slack: %v", err)
	}
	// The refusal is audited as the API's is (authz.denied), not only told
	// to the presser.
	denied, err := st.Audit(context.Background(), store.AuditFilter{Type: audit.TypeForbidden})
	if err != nil {
		t.Fatal(err)
	}
	if len(denied) == 0 || denied[0].Actor != slackUser("bob@example.com").ID() || !strings.Contains(denied[0].Reason, "never approves their own") {
		t.Fatalf("bob's refused self-approval from Slack was not audited as %s: %+v", audit.TypeForbidden, denied)
	}
	if err := decide(context.Background(), slackUser("carol@example.com"), "with-email", 1, true, "via Slack"); err != nil {
		t.Fatalf("carol approving from Slack: %v", err)
	}
	got, _ := st.Get(context.Background(), "with-email")
	if got.State != api.StateApproved || got.Approvals[0].Issuer != slack.SlackIssuer || got.Approvals[0].Email != "carol@example.com" {
		t.Fatalf("after carol's Slack approval: %+v", got)
	}
}

// TestOneApproverFillingTwoSlotsThroughSlackAndAnEmailLessTokenRefused:
// bob approves with a token that carries no verified email (scope openid:
// his groups make him an approver), then presses Approve in Slack, where
// his confirmed email names him in approvers.users; or the other way round.
// The two decisions had different principals and no common email, so one
// person filled both slots of approvals_required: 2.
func TestOneApproverFillingTwoSlotsThroughSlackAndAnEmailLessTokenRefused(t *testing.T) {
	const src = `
roles:
  - name: prod
    arn: arn:aws:iam::123456789012:role/prod
    eligible: {groups: [developers]}
    approvers: {groups: [approvers], users: [bob@example.com]}
    approvals_required: 2
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
	svc := service(t, st, pol, now)
	decide := Decider(svc)

	const iss = "https://idp.example.com"
	alice := api.User{Issuer: iss, Subject: "u-alice", Email: "alice@example.com", Username: "alice@example.com", Groups: []string{"developers"}}
	bobNoEmail := api.User{Issuer: iss, Subject: "u-bob", Groups: []string{"approvers"}}
	bobSlack := api.User{Issuer: slack.SlackIssuer, Subject: "slack-user:U-BOB", Email: "bob@example.com", Username: "bob@example.com"}
	for _, order := range []string{"token-then-slack", "slack-then-token"} {
		r, evs := lifecycle.New(lifecycle.NewInput{ID: order, Requester: alice.ID(), RequesterUser: alice,
			Create: api.CreateRequest{Role: "prod", Reason: "x"}, Duration: time.Hour, ApprovalsNeeded: 2, PendingTimeout: time.Hour}, now)
		if err := st.Create(context.Background(), r, evs); err != nil {
			t.Fatal(err)
		}
		var second error
		if order == "token-then-slack" {
			approveWithToken(t, svc, bobNoEmail, order, nil)
			second = decide(context.Background(), bobSlack, order, 1, true, "via Slack")
		} else {
			if err := decide(context.Background(), bobSlack, order, 1, true, "via Slack"); err != nil {
				t.Fatalf("%s: bob's Slack approval: %v", order, err)
			}
			approveWithToken(t, svc, bobNoEmail, order, &second)
		}
		if second == nil {
			t.Fatalf("%s: the second approval was accepted", order)
		}
		got, _ := st.Get(context.Background(), order)
		if got.State != api.StatePending || len(got.Approvals) != 1 {
			t.Fatalf("%s: %s with %d approvals by one person", order, got.State, len(got.Approvals))
		}
	}
}

// approveWithToken approves id as u the way the API does (the grants
// service, door "api"); a refusal goes to *refused, or fails the test when
// refused is nil.
func approveWithToken(t *testing.T, svc *grants.Service, u api.User, id string, refused *error) {
	t.Helper()
	_, err := svc.Approve(context.Background(), grants.Actor{User: u, Via: grants.ViaAPI}, id, 1, "")
	switch {
	case refused != nil:
		*refused = err
	case err != nil:
		t.Fatalf("approve %s as %s: %v", id, u.ID(), err)
	}
}

// service is the grants service the decider calls, on st with pol at now.
func service(t *testing.T, st *sqlite.Store, pol *policy.Policy, now time.Time) *grants.Service {
	t.Helper()
	targets, err := target.NewRegistry(awsrole.New(awsrole.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := grants.New(grants.Options{Store: st, Policy: pol, Targets: targets, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
