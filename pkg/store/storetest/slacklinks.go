package storetest

// Slack account links and their one-time codes (pkg/slacklink).

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

func slackLinkTests() []suiteTest {
	return []suiteTest{
		{"SlackLinkCodeRedeemsOnceAndBindsTheAccount", testSlackLinkRedeem},
		{"SlackLinkCodeRaceHasOneWinner", testSlackLinkRace},
		{"SlackLinkRefusedByBindChangesNothing", testSlackLinkBindRefusal},
		{"SlackLinkDeleteWritesItsEventOnce", testSlackLinkDelete},
	}
}

var linkAlice = api.User{Issuer: "https://idp.example.com", Subject: "u-alice", Username: "alice@example.com",
	Email: "alice@example.com", Groups: []string{"developers"}}

func bindTo(u api.User, at time.Time) func(c store.SlackLinkCode) (store.SlackLink, []audit.Event, error) {
	return func(c store.SlackLinkCode) (store.SlackLink, []audit.Event, error) {
		return store.SlackLink{TeamID: c.TeamID, UserID: c.UserID, User: u, LinkedAt: at},
			[]audit.Event{{Time: at, Type: "test.slack_linked", Actor: u.ID(), Subject: c.UserID}}, nil
	}
}

func testSlackLinkRedeem(t *testing.T, s store.Store) {
	c := context.Background()
	if _, err := s.SlackLink(c, "T1", "U1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unlinked account: %v, want ErrNotFound", err)
	}
	code := store.SlackLinkCode{Hash: "h1", TeamID: "T1", UserID: "U1", SlackEmail: "alice@example.com", Expires: t0.Add(10 * time.Minute)}
	if err := s.AddSlackLinkCode(c, code, t0); err != nil {
		t.Fatal(err)
	}
	var got store.SlackLinkCode
	bind := bindTo(linkAlice, t0.Add(time.Minute))
	if err := s.RedeemSlackLinkCode(c, "h1", func(sc store.SlackLinkCode) (store.SlackLink, []audit.Event, error) {
		got = sc
		return bind(sc)
	}); err != nil {
		t.Fatal(err)
	}
	if got != code {
		t.Fatalf("bind saw %+v, want %+v (expiry exact, in UTC)", got, code)
	}
	if err := s.RedeemSlackLinkCode(c, "h1", bind); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second redemption: %v, want ErrNotFound", err)
	}
	if err := s.RedeemSlackLinkCode(c, "unknown", bind); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v, want ErrNotFound", err)
	}
	l, err := s.SlackLink(c, "T1", "U1")
	if err != nil || l.User.Principal() != linkAlice.Principal() || len(l.User.Groups) != 1 || !l.LinkedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("link = %+v, %v", l, err)
	}
	if _, err := s.SlackLink(c, "T2", "U1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("same user id in another workspace: %v, want ErrNotFound", err)
	}
	evs, err := s.Audit(c, store.AuditFilter{Type: "test.slack_linked"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("link events = %d, %v; want 1", len(evs), err)
	}
	// A new code of the same Slack account relinks it to another principal.
	bob := api.User{Issuer: linkAlice.Issuer, Subject: "u-bob", Username: "bob@example.com"}
	if err := s.AddSlackLinkCode(c, store.SlackLinkCode{Hash: "h2", TeamID: "T1", UserID: "U1", Expires: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RedeemSlackLinkCode(c, "h2", bindTo(bob, t0.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.SlackLink(c, "T1", "U1"); l.User.Subject != "u-bob" {
		t.Fatalf("relinked to %+v", l.User)
	}
	if ls, err := s.SlackLinksOf(c, linkAlice.Issuer, "u-alice"); err != nil || len(ls) != 0 {
		t.Fatalf("alice's links after the relink: %+v, %v", ls, err)
	}
	if ls, err := s.SlackLinksOf(c, linkAlice.Issuer, "u-bob"); err != nil || len(ls) != 1 || ls[0].UserID != "U1" {
		t.Fatalf("bob's links: %+v, %v", ls, err)
	}
	// Expired codes are pruned when a new one is added.
	if err := s.AddSlackLinkCode(c, store.SlackLinkCode{Hash: "h3", TeamID: "T1", UserID: "U3", Expires: t0.Add(time.Minute)}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSlackLinkCode(c, store.SlackLinkCode{Hash: "h4", TeamID: "T1", UserID: "U4", Expires: t0.Add(time.Hour)}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RedeemSlackLinkCode(c, "h3", bindTo(linkAlice, t0)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a pruned code: %v, want ErrNotFound", err)
	}
}

func testSlackLinkRace(t *testing.T, s store.Store) {
	c := context.Background()
	if err := s.AddSlackLinkCode(c, store.SlackLinkCode{Hash: "race", TeamID: "T1", UserID: "U1", Expires: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			u := linkAlice
			u.Subject = "u-" + string(rune('a'+i))
			err := s.RedeemSlackLinkCode(c, "race", bindTo(u, t0))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d redemptions of one code won, want 1", wins.Load())
	}
	evs, _ := s.Audit(c, store.AuditFilter{Type: "test.slack_linked"})
	if len(evs) != 1 {
		t.Fatalf("%d link events, want 1", len(evs))
	}
}

func testSlackLinkBindRefusal(t *testing.T, s store.Store) {
	c := context.Background()
	if err := s.AddSlackLinkCode(c, store.SlackLinkCode{Hash: "h1", TeamID: "T1", UserID: "U1", Expires: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	err := s.RedeemSlackLinkCode(c, "h1", func(store.SlackLinkCode) (store.SlackLink, []audit.Event, error) {
		return store.SlackLink{}, nil, refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("redeem = %v, want bind's error", err)
	}
	if _, err := s.SlackLink(c, "T1", "U1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused bind linked: %v", err)
	}
	// The code is still there: a refusal (say, another principal's
	// email) does not burn it for its owner.
	if err := s.RedeemSlackLinkCode(c, "h1", bindTo(linkAlice, t0)); err != nil {
		t.Fatalf("redeem after a refused bind: %v", err)
	}
}

func testSlackLinkDelete(t *testing.T, s store.Store) {
	c := context.Background()
	ev := func(l store.SlackLink) []audit.Event {
		return []audit.Event{{Time: t0, Type: "test.slack_unlinked", Actor: l.User.ID(), Subject: l.UserID}}
	}
	if err := s.DeleteSlackLink(c, "T1", "U1", ev); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unlink of an unlinked account: %v, want ErrNotFound", err)
	}
	if err := s.AddSlackLinkCode(c, store.SlackLinkCode{Hash: "h1", TeamID: "T1", UserID: "U1", Expires: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RedeemSlackLinkCode(c, "h1", bindTo(linkAlice, t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSlackLink(c, "T1", "U1", ev); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSlackLink(c, "T1", "U1", ev); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second unlink: %v, want ErrNotFound", err)
	}
	if _, err := s.SlackLink(c, "T1", "U1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after unlink: %v", err)
	}
	evs, _ := s.Audit(c, store.AuditFilter{Type: "test.slack_unlinked"})
	if len(evs) != 1 || evs[0].Actor != "alice@example.com" {
		t.Fatalf("unlink events %+v, want one by the linked principal", evs)
	}
}
