package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/notify/notifier"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
)

// extensionPolicy: break-glass grants extend alone up to 30m; past it two
// of bob, carol and dave must agree.
const extensionPolicy = `
roles:
  - name: oncall
    arn: arn:aws:iam::123456789012:role/oncall
    eligible: {groups: [developers]}
    approvers: {users: [bob@example.com, carol@example.com, dave@example.com]}
    approvals_required: 2
    max_duration: 1h
    max_extensions: 2
    break_glass: {allowed: true, max_duration: 30m}
`

// waitingExtension sets up Slack decisions through the grants service, and
// a break-glass grant of bob's (an approver himself) whose 15-minute
// extension waits for two approvers. Slack users U-BOB, U-CAROL and U-DAVE
// have those confirmed emails.
func waitingExtension(t *testing.T) (svc *grants.Service, st store.Store, jitURL string, req *api.Request) {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", []byte(extensionPolicy))
	if err != nil {
		t.Fatal(err)
	}
	_, f, st, srv := setup(t, func(o *slack.Options) {
		targets, err := target.NewRegistry(awsrole.New(awsrole.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		svc, err = grants.New(grants.Options{Store: o.Store, Policy: pol, Targets: targets, Now: o.Now})
		if err != nil {
			t.Fatal(err)
		}
		o.ApproveByEmail = true
		o.Decide = notifier.Decider(svc)
	})
	f.Mu.Lock()
	for _, name := range []string{"bob", "carol", "dave"} {
		u := slackapi.User{ID: "U-" + strings.ToUpper(name), RealName: name, IsEmailConfirmed: true}
		u.Profile.Email = name + "@example.com"
		f.Users[u.ID] = u
	}
	f.Mu.Unlock()
	bob := api.User{Issuer: "https://idp.example.com", Subject: "u-bob", Email: "bob@example.com", Username: "bob@example.com", Groups: []string{"developers"}}
	ctx := context.Background()
	a := grants.Actor{User: bob, Via: grants.ViaAPI}
	r, err := svc.Create(ctx, a, api.CreateRequest{Role: "oncall", Reason: "outage", BreakGlass: true, DurationSeconds: 1800})
	if err != nil {
		t.Fatal(err)
	}
	r, waiting, err := svc.Extend(ctx, a, r.ID, 15*time.Minute, "still down")
	if err != nil || !waiting {
		t.Fatalf("extend: %v (waiting %v)", err, waiting)
	}
	return svc, st, srv.URL, r
}

// press is a signed button press by a Slack user on a button whose value
// is value (slack.ButtonValue: the request's id and the version the
// message showed); it returns the answer.
func press(t *testing.T, jitURL, action, value, user string, age time.Duration) string {
	t.Helper()
	_, body := call(t, jitURL, signingSecret, time.Now().Add(-age), pressPayload(t, "", action, value, user), "")
	return body
}

func TestSlackApprovesAWaitingExtensionWithTheSameNotSelfAndNOfMRules(t *testing.T) {
	_, st, jit, req := waitingExtension(t)
	ctx := context.Background()
	if body := press(t, jit, slack.ActionApprove, slack.ButtonValue(req), "U-BOB", 0); !strings.Contains(body, "never approves their own extension") {
		t.Fatalf("bob approved his own extension from Slack: %s", body)
	}
	if body := press(t, jit, slack.ActionApprove, slack.ButtonValue(req), "U-CAROL", time.Second); !strings.Contains(body, "You approved") {
		t.Fatalf("carol's approval: %s", body)
	}
	got, _ := st.Get(ctx, req.ID)
	if got.PendingExtension == nil || len(got.PendingExtension.Approvals) != 1 || !got.EndsAt.Equal(req.EndsAt) {
		t.Fatalf("after one of two approvals the grant moved or the extension went: %+v", got)
	}
	if body := press(t, jit, slack.ActionApprove, slack.ButtonValue(req), "U-CAROL", 2*time.Second); !strings.Contains(body, "already approved") {
		t.Fatalf("carol filled both slots: %s", body)
	}
	if body := press(t, jit, slack.ActionApprove, slack.ButtonValue(req), "U-DAVE", 3*time.Second); !strings.Contains(body, "You approved") {
		t.Fatalf("dave's approval: %s", body)
	}
	got, _ = st.Get(ctx, req.ID)
	if got.PendingExtension != nil || !got.EndsAt.Equal(req.EndsAt.Add(15*time.Minute)) || got.Extensions != 1 {
		t.Fatalf("after two approvals: ends %s (was %s), extension %+v", got.EndsAt, req.EndsAt, got.PendingExtension)
	}
	evs, err := st.Audit(ctx, store.AuditFilter{RequestID: req.ID, Type: "grant.extended"})
	if err != nil || len(evs) != 1 || evs[0].Detail[grants.DetailVia] != grants.ViaSlack {
		t.Fatalf("grant.extended should record the Slack door: %+v %v", evs, err)
	}
}

func TestSlackDeniesAWaitingExtensionAndTheGrantKeepsItsEnd(t *testing.T) {
	_, st, jit, req := waitingExtension(t)
	if body := press(t, jit, slack.ActionDeny, slack.ButtonValue(req), "U-BOB", 0); !strings.Contains(body, "never approves their own extension") {
		t.Fatalf("bob decided his own extension from Slack: %s", body)
	}
	if body := press(t, jit, slack.ActionDeny, slack.ButtonValue(req), "U-CAROL", time.Second); !strings.Contains(body, "You denied") {
		t.Fatalf("carol's denial: %s", body)
	}
	got, _ := st.Get(context.Background(), req.ID)
	if got.PendingExtension != nil || !got.EndsAt.Equal(req.EndsAt) || !got.State.Granted() {
		t.Fatalf("after the denial: %+v", got)
	}
}

// TestSlackPressOnAnOlderMessageDoesNotDecideALaterExtension: a button
// carries the version its message showed. Carol denies the first waiting
// extension; bob asks for another. A press on a button from before (the
// first extension's, or the request's own) is refused, naming what waits
// now, and approves nothing.
func TestSlackPressOnAnOlderMessageDoesNotDecideALaterExtension(t *testing.T) {
	svc, st, jit, first := waitingExtension(t)
	ctx := context.Background()
	if body := press(t, jit, slack.ActionDeny, slack.ButtonValue(first), "U-CAROL", 0); !strings.Contains(body, "You denied") {
		t.Fatalf("carol's denial: %s", body)
	}
	bob := api.User{Issuer: "https://idp.example.com", Subject: "u-bob", Email: "bob@example.com", Username: "bob@example.com", Groups: []string{"developers"}}
	second, waiting, err := svc.Extend(ctx, grants.Actor{User: bob, Via: grants.ViaAPI}, first.ID, 15*time.Minute, "still down")
	if err != nil || !waiting {
		t.Fatalf("second extension: %v (waiting %v)", err, waiting)
	}
	for i, value := range []string{slack.ButtonValue(first), first.ID + "@1", first.ID} {
		for _, who := range []string{"U-CAROL", "U-DAVE"} {
			body := press(t, jit, slack.ActionApprove, value, who, time.Duration(i+1)*time.Second)
			if !strings.Contains(body, "changed since you looked") || !strings.Contains(body, "an extension") {
				t.Fatalf("%s pressed %q: %s", who, value, body)
			}
		}
	}
	got, _ := st.Get(ctx, first.ID)
	if got.PendingExtension == nil || len(got.PendingExtension.Approvals) != 0 || !got.EndsAt.Equal(second.EndsAt) {
		t.Fatalf("a stale press decided the second extension: %+v", got.PendingExtension)
	}
	// Buttons of the message as it is now decide.
	if body := press(t, jit, slack.ActionApprove, slack.ButtonValue(second), "U-CAROL", 5*time.Second); !strings.Contains(body, "You approved") {
		t.Fatalf("carol's approval of the second extension: %s", body)
	}
}
