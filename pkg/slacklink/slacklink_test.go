package slacklink_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/slacklink"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

const team = "T0JIT"

var (
	alice = api.User{Issuer: "https://idp.example.com", Subject: "u-alice", Email: "alice@example.com",
		Username: "alice@example.com", Groups: []string{"developers"}}
	bob = api.User{Issuer: "https://idp.example.com", Subject: "u-bob", Email: "bob@example.com",
		Username: "bob@example.com", Groups: []string{"developers"}}
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T) (*slacklink.Service, store.Store, *clock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)}
	s, err := slacklink.New(slacklink.Options{Store: st, TeamID: team, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, c
}

func code(t *testing.T, s *slacklink.Service, teamID, user, email string) string {
	t.Helper()
	c, _, err := s.NewCode(context.Background(), teamID, user, email)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantRefused(t *testing.T, err error, code, words string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != code || !strings.Contains(ae.Message, words) || ae.Hint == "" {
		t.Fatalf("err = %v; want a %s error saying %q with a hint", err, code, words)
	}
}

func TestLinkCodeLinksTheSlackAccountToThePrincipalOnceAndIsAudited(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	c := code(t, s, team, "U1", "Alice@Example.com")
	if _, err := s.Lookup(ctx, team, "U1"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("before linking: %v", err)
	}
	// Typed in lower case with spaces, the code still reads.
	l, err := s.Redeem(ctx, alice, " "+strings.ToLower(strings.ReplaceAll(c, "-", " "))+" ", "api")
	if err != nil {
		t.Fatal(err)
	}
	if l.TeamID != team || l.UserID != "U1" || l.User.Principal() != alice.Principal() {
		t.Fatalf("link %+v", l)
	}
	got, err := s.Lookup(ctx, team, "U1")
	if err != nil || got.User.Principal() != alice.Principal() || len(got.User.Groups) != 1 {
		t.Fatalf("lookup = %+v, %v", got, err)
	}
	// The same code again — by alice or by anyone else — is refused.
	_, err = s.Redeem(ctx, alice, c, "api")
	wantRefused(t, err, api.CodeNotFound, "unknown or was already used")
	_, err = s.Redeem(ctx, bob, c, "api")
	wantRefused(t, err, api.CodeNotFound, "unknown or was already used")
	if got, _ := s.Lookup(ctx, team, "U1"); got.User.Principal() != alice.Principal() {
		t.Fatalf("a reused code relinked the account to %s", got.User.ID())
	}
	evs, _ := st.Audit(ctx, store.AuditFilter{Type: audit.TypeSlackLinked})
	if len(evs) != 1 || evs[0].Actor != "alice@example.com" || evs[0].Detail["slack_user"] != "U1" ||
		evs[0].Detail["team_id"] != team || evs[0].Detail["subject"] != "u-alice" || evs[0].Detail["via"] != "api" {
		t.Fatalf("slack.linked records %+v", evs)
	}
	// Unlinking from Slack removes it, audited; a second unlink says so.
	if _, err := s.Unlink(ctx, team, "U1", "slack"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unlink(ctx, team, "U1", "slack"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("second unlink: %v", err)
	}
	if _, err := s.Lookup(ctx, team, "U1"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("after unlink: %v", err)
	}
	evs, _ = st.Audit(ctx, store.AuditFilter{Type: audit.TypeSlackUnlinked})
	if len(evs) != 1 || evs[0].Subject != "alice@example.com" || evs[0].Detail["via"] != "slack" {
		t.Fatalf("slack.unlinked records %+v", evs)
	}
}

func TestExpiredLinkCodeIsRefused(t *testing.T) {
	s, _, clk := newService(t)
	c := code(t, s, team, "U1", "")
	clk.t = clk.t.Add(slacklink.DefaultCodeTTL)
	_, err := s.Redeem(context.Background(), alice, c, "api")
	wantRefused(t, err, api.CodeInvalid, "expired at")
	if _, err := s.Lookup(context.Background(), team, "U1"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("an expired code linked: %v", err)
	}
}

func TestLinkCodeFromAnotherWorkspaceIsRefusedAndAudited(t *testing.T) {
	s, st, _ := newService(t)
	c := code(t, s, "T0OTHER", "U1", "")
	_, err := s.Redeem(context.Background(), alice, c, "api")
	wantRefused(t, err, api.CodeForbidden, "workspace T0OTHER, which this jit server does not serve")
	evs, _ := st.Audit(context.Background(), store.AuditFilter{Type: audit.TypeForbidden})
	if len(evs) != 1 || evs[0].Actor != "alice@example.com" || evs[0].Detail["team_id"] != "T0OTHER" {
		t.Fatalf("authz.denied %+v", evs)
	}
	// Nor does a link under another workspace's id count here.
	if _, err := s.Lookup(context.Background(), "T0OTHER", "U1"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("lookup in another workspace: %v", err)
	}
}

// TestLinkCodeOfAnotherPersonsSlackAccountIsRefused: mallory types /jit
// link and talks alice into running the code. Slack confirmed mallory's
// email, which is not alice's verified one, so the code is refused to
// alice and mallory's Slack account does not become alice.
func TestLinkCodeOfAnotherPersonsSlackAccountIsRefused(t *testing.T) {
	s, st, _ := newService(t)
	c := code(t, s, team, "U-MALLORY", "mallory@example.com")
	_, err := s.Redeem(context.Background(), alice, c, "api")
	wantRefused(t, err, api.CodeForbidden, "email is not yours")
	if _, err := s.Lookup(context.Background(), team, "U-MALLORY"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("mallory's account linked to alice: %v", err)
	}
	if evs, _ := st.Audit(context.Background(), store.AuditFilter{Type: audit.TypeForbidden}); len(evs) != 1 {
		t.Fatalf("refusal not audited: %+v", evs)
	}
}

func TestWorkloadCannotLinkASlackAccount(t *testing.T) {
	s, _, _ := newService(t)
	c := code(t, s, team, "U1", "")
	ci := api.User{Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:acme/app:ref:refs/heads/main", Kind: api.KindWorkload}
	_, err := s.Redeem(context.Background(), ci, c, "api")
	wantRefused(t, err, api.CodeForbidden, "workload token")
	if _, err := s.Lookup(context.Background(), team, "U1"); !errors.Is(err, slacklink.ErrNotLinked) {
		t.Fatalf("a workload linked: %v", err)
	}
	// The code is still good for the person it was meant for.
	if _, err := s.Redeem(context.Background(), alice, c, "api"); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedLinkCodeIsRefusedWithWhatACodeLooksLike(t *testing.T) {
	s, _, _ := newService(t)
	for _, c := range []string{"", "abc", strings.Repeat("A", 11), "jit link slack"} {
		_, err := s.Redeem(context.Background(), alice, c, "api")
		wantRefused(t, err, api.CodeInvalid, "look like")
	}
}

func TestLinkExpiresAfterItsMaximumAge(t *testing.T) {
	s, _, clk := newService(t)
	if _, err := s.Redeem(context.Background(), alice, code(t, s, team, "U1", ""), "api"); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(slacklink.DefaultMaxAge)
	_, err := s.Lookup(context.Background(), team, "U1")
	var exp *slacklink.ExpiredError
	if !errors.As(err, &exp) || exp.Link.User.Principal() != alice.Principal() {
		t.Fatalf("lookup of an old link = %v", err)
	}
}

func TestCodesAreTenSymbolsOfCrockfordBase32(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, _ := slacklink.New(slacklink.Options{Store: st, TeamID: team, Rand: bytes.NewReader(bytes.Repeat([]byte{31, 0, 200}, 10))})
	c, exp, err := s.NewCode(context.Background(), team, "U1", "")
	if err != nil || c != "Z08Z0-8Z08Z" || time.Until(exp) > slacklink.DefaultCodeTTL {
		t.Fatalf("code %q (expires %v): %v", c, exp, err)
	}
}

func TestUnlinkPrincipalRemovesEveryLinkOfThatPrincipalOnly(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	for _, u := range []string{"U1", "U2"} {
		if _, err := s.Redeem(ctx, alice, code(t, s, team, u, ""), "api"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Redeem(ctx, bob, code(t, s, team, "U3", ""), "api"); err != nil {
		t.Fatal(err)
	}
	gone, err := s.UnlinkPrincipal(ctx, alice, "api")
	if err != nil || len(gone) != 2 {
		t.Fatalf("unlinked %+v, %v", gone, err)
	}
	if _, err := s.Lookup(ctx, team, "U3"); err != nil {
		t.Fatalf("bob's link went too: %v", err)
	}
}
