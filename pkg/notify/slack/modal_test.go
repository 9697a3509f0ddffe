package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/jit-access/jit/internal/fakeslack"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/slacklink"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
)

// requestPolicy: developers may request readonly (approved at once) and
// prod-admin (a ticket, one approver) and two-man (two approvers); only the
// security group may request vault.
const requestPolicy = `
roles:
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly
    eligible: {groups: [developers]}
    auto_approve: {groups: [developers], max_duration: 1h}
    max_duration: 1h
    max_extensions: 2
  - name: prod-admin
    arn: arn:aws:iam::123456789012:role/prod-admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 2h
    reason_required: true
    ticket_pattern: '^INC-[0-9]+$'
  - name: two-man
    arn: arn:aws:iam::123456789012:role/two-man
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    approvals_required: 2
    max_duration: 1h
  - name: vault
    arn: arn:aws:iam::123456789012:role/vault
    eligible: {groups: [security]}
    approvers: {groups: [approvers]}
`

const iss = "https://idp.example.com"

var (
	alice = api.User{Issuer: iss, Subject: "u-alice", Email: "alice@example.com", Username: "alice@example.com", Groups: []string{"developers"}}
	bob   = api.User{Issuer: iss, Subject: "u-bob", Email: "bob@example.com", Username: "bob@example.com", Groups: []string{"developers", "approvers"}}
	carol = api.User{Issuer: iss, Subject: "u-carol", Email: "carol@example.com", Username: "carol@example.com", Groups: []string{"approvers"}}
)

// requestEnv is a Slack sink with the slash command and the form on, the
// grants service behind them, and U-ALICE and U-BOB linked to alice and bob.
type requestEnv struct {
	t     testing.TB
	sink  *slack.Sink
	fake  *fakeslack.Slack
	st    store.Store
	svc   *grants.Service
	links *slacklink.Service
	jit   string
	d     *notify.Dispatcher
	now   time.Time
}

func newRequestEnv(t testing.TB) *requestEnv {
	t.Helper()
	e := &requestEnv{t: t, now: time.Now()}
	pol, err := policy.Parse("policy.yaml", []byte(requestPolicy))
	if err != nil {
		t.Fatal(err)
	}
	s, f, st, jit := setup(t, func(o *slack.Options) {
		targets, err := target.NewRegistry(awsrole.New(awsrole.Options{}))
		if err != nil {
			t.Fatal(err)
		}
		if e.svc, err = grants.New(grants.Options{Store: o.Store, Policy: pol, Targets: targets, Now: o.Now}); err != nil {
			t.Fatal(err)
		}
		if e.links, err = slacklink.New(slacklink.Options{Store: o.Store, TeamID: teamID}); err != nil {
			t.Fatal(err)
		}
		o.Links, o.Requests = e.links, e.svc
	})
	e.sink, e.fake, e.st, e.jit = s, f, st, jit.URL
	for user, u := range map[string]api.User{"U-ALICE": alice, "U-BOB": bob} {
		c, _, err := e.links.NewCode(context.Background(), teamID, user, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.links.Redeem(context.Background(), u, c, "api"); err != nil {
			t.Fatal(err)
		}
	}
	st.DeliveryCursor(context.Background(), s.Name()) //nolint:errcheck
	if e.d, err = notify.NewDispatcher(notify.DispatcherOptions{Store: st, Sink: s}); err != nil {
		t.Fatal(err)
	}
	return e
}

// submit sends the form's view_submission from Slack user user, signed
// at ts; values maps block ids to what was typed or chosen.
func (e *requestEnv) submit(user, team string, ts time.Time, values map[string]string) (int, slack.ViewResponse) {
	e.t.Helper()
	return e.post(slack.InteractivityPath, fakeslack.Submission(e.t, team, user, slack.RequestCallback, "requester=bob@example.com", slack.BlockRole, values), ts)
}

func (e *requestEnv) post(path, body string, ts time.Time) (int, slack.ViewResponse) {
	e.t.Helper()
	status, raw := fakeslack.Post(e.t, e.jit+path, signingSecret, ts, body)
	var v slack.ViewResponse
	if strings.HasPrefix(strings.TrimSpace(raw), "{") {
		json.Unmarshal([]byte(raw), &v) //nolint:errcheck
	}
	return status, v
}

// requests are the stored requests, newest first.
func (e *requestEnv) requests() []api.Request {
	e.t.Helper()
	rs, _, err := e.st.List(context.Background(), store.Filter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// dms are the texts of direct messages to a Slack user.
func (e *requestEnv) dms(user string) []string {
	e.fake.Mu.Lock()
	defer e.fake.Mu.Unlock()
	var out []string
	for _, m := range e.fake.Messages {
		if m.Channel == user {
			out = append(out, m.Text)
		}
	}
	return out
}

func (e *requestEnv) waitDM(user, words string) {
	e.t.Helper()
	e.sink.Wait()
	if !e.fake.WaitFor(10*time.Second, func() bool {
		for _, m := range e.fake.Messages {
			if m.Channel == user && strings.Contains(m.Text, words) {
				return true
			}
		}
		return false
	}) {
		e.t.Fatalf("no direct message to %s saying %q; got %q", user, words, e.dms(user))
	}
}

func TestSlashCommandOpensAFormListingOnlyTheRolesThePrincipalMayRequest(t *testing.T) {
	e := newRequestEnv(t)
	slash(t, e.jit, e.fake, signingSecret, time.Now(), teamID, "U-ALICE", "", "c1")
	e.sink.Wait()
	e.fake.Mu.Lock()
	defer e.fake.Mu.Unlock()
	if len(e.fake.Views) != 1 || e.fake.Triggers[0] == "" {
		t.Fatalf("views opened: %d", len(e.fake.Views))
	}
	v := e.fake.Views[0]
	var roles []string
	var blocks []string
	for _, b := range v.Blocks.BlockSet {
		in, ok := b.(*slackapi.InputBlock)
		if !ok {
			continue
		}
		blocks = append(blocks, in.BlockID)
		if sel, ok := in.Element.(*slackapi.SelectBlockElement); ok {
			for _, o := range sel.Options {
				roles = append(roles, o.Value)
			}
		}
	}
	// The same list `jit roles` shows alice: what the policy lets her request.
	var want []string
	for _, r := range e.svc.Policy().Eligible(alice) {
		want = append(want, r.Name)
	}
	if strings.Join(roles, ",") != strings.Join(want, ",") || strings.Join(roles, ",") != "readonly,prod-admin,two-man" {
		t.Fatalf("form lists %v, want %v (never vault)", roles, want)
	}
	if strings.Join(blocks, ",") != "role,duration,reason,ticket" {
		t.Fatalf("form blocks %v", blocks)
	}
}

func TestRequestFromTheFormIsTheLinkedPrincipalsAndItsOutcomeGoesToThemAlone(t *testing.T) {
	e := newRequestEnv(t)
	start := time.Now()
	resp, v := e.submit("U-ALICE", teamID, time.Now(), map[string]string{slack.BlockRole: "prod-admin", slack.BlockDuration: "90m",
		slack.BlockReason: "fix the deploy", slack.BlockTicket: "INC-42"})
	if resp != http.StatusOK || v.ResponseAction != "" {
		t.Fatalf("submission: %d %+v", resp, v)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the form was answered after %v; Slack gives up after 3 s", d)
	}
	e.waitDM("U-ALICE", "waits for 1 approval")
	rs := e.requests()
	if len(rs) != 1 {
		t.Fatalf("%d requests", len(rs))
	}
	r := rs[0]
	if r.RequesterIssuer != iss || r.RequesterSubject != "u-alice" || r.Role != "prod-admin" || r.Duration() != 90*time.Minute ||
		r.Ticket != "INC-42" || r.State != api.StatePending {
		t.Fatalf("request %+v: want alice's (never bob's, whatever the form's metadata says)", r)
	}
	evs, _ := e.st.Audit(context.Background(), store.AuditFilter{RequestID: r.ID, Type: audit.TypeRequestCreated})
	if len(evs) != 1 || evs[0].Detail[grants.DetailVia] != grants.ViaSlack || evs[0].Actor != "alice@example.com" {
		t.Fatalf("request.created %+v: want alice via slack", evs)
	}
	// Approvers get the usual message with buttons in the role's channel.
	deliverAll(t, e.d, e.st)
	e.fake.Mu.Lock()
	var posted fakeslack.Posted
	for _, m := range e.fake.Messages {
		if m.Channel == "#prod-access" {
			posted = m
		}
	}
	e.fake.Mu.Unlock()
	if b := buttons(posted.Blocks); b[slack.ActionApprove] != slack.ButtonValue(&r) {
		t.Fatalf("approvers' message buttons %v", b)
	}
	// Nobody else heard of it directly.
	if dm := e.dms("U-BOB"); len(dm) != 0 {
		t.Fatalf("bob got %q", dm)
	}
	// Never self-approval: alice cannot approve her Slack-made request.
	if _, err := e.svc.Approve(context.Background(), grants.Actor{User: alice, Via: grants.ViaAPI}, r.ID, r.Version, ""); err == nil {
		t.Fatal("alice approved her own request made from Slack")
	}
	if _, err := e.svc.Approve(context.Background(), grants.Actor{User: bob, Via: grants.ViaAPI}, r.ID, r.Version, "ok"); err != nil {
		t.Fatal(err)
	}
	deliverAll(t, e.d, e.st)
	e.waitDM("U-ALICE", "was approved by bob@example.com")
	e.waitDM("U-ALICE", "jit exec prod-admin")
}

func TestRequestFromTheFormKeepsNOfMApprovals(t *testing.T) {
	e := newRequestEnv(t)
	e.submit("U-ALICE", teamID, time.Now(), map[string]string{slack.BlockRole: "two-man", slack.BlockReason: "x"})
	e.waitDM("U-ALICE", "waits for 2 approval")
	r := e.requests()[0]
	got, err := e.svc.Approve(context.Background(), grants.Actor{User: bob, Via: grants.ViaAPI}, r.ID, r.Version, "")
	if err != nil || got.State != api.StatePending {
		t.Fatalf("after one of two approvals: %v %v", got.State, err)
	}
	if _, err := e.svc.Approve(context.Background(), grants.Actor{User: bob, Via: grants.ViaSlack}, r.ID, r.Version, ""); err == nil {
		t.Fatal("bob filled both approval slots")
	}
	if got, err = e.svc.Approve(context.Background(), grants.Actor{User: carol, Via: grants.ViaAPI}, r.ID, r.Version, ""); err != nil || got.State != api.StateApproved {
		t.Fatalf("after the second approver: %v %v", got.State, err)
	}
}

func TestRequestFormShowsPolicyRefusalsNextToTheirField(t *testing.T) {
	e := newRequestEnv(t)
	for i, c := range []struct {
		values     map[string]string
		block, msg string
	}{
		{map[string]string{slack.BlockRole: "prod-admin", slack.BlockReason: "x"}, slack.BlockTicket, "ticket"},
		{map[string]string{slack.BlockRole: "prod-admin", slack.BlockReason: "x", slack.BlockTicket: "INC-1", slack.BlockDuration: "5h"}, slack.BlockDuration, "2h"},
		{map[string]string{slack.BlockRole: "prod-admin", slack.BlockTicket: "INC-1"}, slack.BlockReason, "reason"},
		{map[string]string{slack.BlockRole: "readonly", slack.BlockDuration: "soon"}, slack.BlockDuration, "write it like 30m"},
		// A role alice may not request (a crafted submission: the form
		// never lists it) is refused next to the role.
		{map[string]string{slack.BlockRole: "vault", slack.BlockReason: "x"}, slack.BlockRole, "vault"},
	} {
		resp, v := e.submit("U-ALICE", teamID, e.now.Add(-time.Duration(i)*time.Second), c.values)
		if resp != http.StatusOK || v.ResponseAction != "errors" || !strings.Contains(v.Errors[c.block], c.msg) || len(v.Errors) != 1 {
			t.Errorf("%v: %d %+v; want an error on %s saying %q", c.values, resp, v, c.block, c.msg)
		}
	}
	e.sink.Wait()
	if rs := e.requests(); len(rs) != 0 {
		t.Fatalf("refused submissions made %d requests", len(rs))
	}
	if evs, _ := e.st.Audit(context.Background(), store.AuditFilter{Type: audit.TypeForbidden}); len(evs) == 0 {
		t.Fatal("the refusal of a role alice may not request was not audited")
	}
}

func TestRequestFormFromAnUnlinkedAccountIsRefused(t *testing.T) {
	e := newRequestEnv(t)
	resp, v := e.submit("U-MALLORY", teamID, time.Now(), map[string]string{slack.BlockRole: "readonly", slack.BlockReason: "x"})
	if resp != http.StatusOK || v.ResponseAction != "errors" || !strings.Contains(v.Errors[slack.BlockRole], "not linked") {
		t.Fatalf("%d %+v", resp, v)
	}
	e.sink.Wait()
	if rs := e.requests(); len(rs) != 0 {
		t.Fatalf("an unlinked account made %d requests", len(rs))
	}
}

func TestRequestFormSubmissionReplayedStaleOrFromAnotherWorkspaceIsRefused(t *testing.T) {
	e := newRequestEnv(t)
	vals := map[string]string{slack.BlockRole: "readonly", slack.BlockReason: "x"}
	now := time.Now()
	if resp, _ := e.submit("U-ALICE", teamID, now.Add(-6*time.Minute), vals); resp != http.StatusUnauthorized {
		t.Errorf("stale: %d", resp)
	}
	if resp, _ := e.submit("U-ALICE", "T0OTHER", now.Add(-time.Second), vals); resp != http.StatusForbidden {
		t.Errorf("another workspace: %d", resp)
	}
	if resp, _ := e.submit("U-ALICE", teamID, now, vals); resp != http.StatusOK {
		t.Fatalf("valid: %d", resp)
	}
	if resp, _ := e.submit("U-ALICE", teamID, now, vals); resp != http.StatusUnauthorized {
		t.Errorf("replayed: %d", resp)
	}
	e.waitDM("U-ALICE", "is approved")
	if rs := e.requests(); len(rs) != 1 {
		t.Fatalf("%d requests, want the one valid submission's", len(rs))
	}
}

// TestReminderBeforeTheGrantEndsIsADirectMessageWithAnExtendButton: the
// reminder (once per grant end, under the reminders' lease) reaches the
// linked requester alone, with an Extend button that extends through the
// grants service; the same button pressed by another linked person is
// refused (only the requester extends).
func TestReminderBeforeTheGrantEndsIsADirectMessageWithAnExtendButton(t *testing.T) {
	e := newRequestEnv(t)
	e.submit("U-ALICE", teamID, time.Now(), map[string]string{slack.BlockRole: "readonly", slack.BlockDuration: "20m", slack.BlockReason: "look"})
	e.waitDM("U-ALICE", "is approved")
	r := e.requests()[0]
	rem, err := notify.NewReminder(notify.ReminderOptions{Store: e.st, Before: 5 * time.Minute, Now: func() time.Time { return r.EndsAt.Add(-4 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := rem.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := e.st.Audit(context.Background(), store.AuditFilter{RequestID: r.ID, Type: notify.TypeGrantEndingSoon})
	if len(evs) != 1 {
		t.Fatalf("%d grant.ending_soon records, want one", len(evs))
	}
	deliverAll(t, e.d, e.st)
	e.waitDM("U-ALICE", "Extend it by 30m?")
	e.fake.Mu.Lock()
	var btn map[string]string
	for _, m := range e.fake.Messages {
		if m.Channel == "U-ALICE" && strings.Contains(m.Text, "Extend it") {
			btn = buttons(m.Blocks)
		}
	}
	e.fake.Mu.Unlock()
	if btn[slack.ActionExtend] != r.ID {
		t.Fatalf("reminder buttons %v", btn)
	}
	if d := e.dms("U-BOB"); len(d) != 0 {
		t.Fatalf("bob got alice's reminder: %q", d)
	}
	_, body := call(t, e.jit, signingSecret, time.Now(), pressPayload(t, "", slack.ActionExtend, r.ID, "U-BOB"), "")
	if !strings.Contains(body, "could not extend") {
		t.Fatalf("bob pressing alice's Extend: %s", body)
	}
	_, body = call(t, e.jit, signingSecret, time.Now().Add(-time.Second), pressPayload(t, "", slack.ActionExtend, r.ID, "U-ALICE"), "")
	if !strings.Contains(body, "Extended") {
		t.Fatalf("alice pressing Extend: %s", body)
	}
	got, _ := e.st.Get(context.Background(), r.ID)
	if !got.EndsAt.Equal(r.EndsAt.Add(slack.ExtendBy)) {
		t.Fatalf("ends %v, want %v", got.EndsAt, r.EndsAt.Add(slack.ExtendBy))
	}
	ext, _ := e.st.Audit(context.Background(), store.AuditFilter{RequestID: r.ID, Type: audit.TypeExtended})
	if len(ext) != 1 || ext[0].Detail[grants.DetailVia] != grants.ViaSlack {
		t.Fatalf("grant.extended %+v", ext)
	}
}
