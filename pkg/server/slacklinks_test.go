package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/slacklink"
)

// TestSlackLinkThroughTheAPIBindsTheTokensPrincipal: POST /v1/links/slack
// with alice's real ID token links the Slack account that made the code to
// alice's (issuer, subject) with her groups; the code then fails for bob;
// GET lists alice's link and DELETE removes it.
func TestSlackLinkThroughTheAPIBindsTheTokensPrincipal(t *testing.T) {
	var links *slacklink.Service
	e := newEnvWith(t, func(o *server.Options) {
		var err error
		if links, err = slacklink.New(slacklink.Options{Store: o.Store, TeamID: "T0JIT", Now: o.Now}); err != nil {
			t.Fatal(err)
		}
		o.SlackLinks = links
	})
	code, _, err := links.NewCode(context.Background(), "T0JIT", "U-ALICE", "")
	if err != nil {
		t.Fatal(err)
	}
	var out api.SlackLinks
	if st := e.call("alice", "POST", "/v1/links/slack", api.SlackLinkBody{Code: code}, &out); st != http.StatusOK ||
		len(out.Links) != 1 || out.Links[0].UserID != "U-ALICE" || out.Links[0].Principal != "alice@example.com" {
		t.Fatalf("link: %d %+v", st, out)
	}
	l, err := links.Lookup(context.Background(), "T0JIT", "U-ALICE")
	if err != nil {
		t.Fatal(err)
	}
	var who api.User
	e.call("alice", "GET", "/v1/whoami", nil, &who)
	if l.User.Principal() != who.Principal() || len(l.User.Groups) == 0 || l.User.Email != "alice@example.com" {
		t.Fatalf("linked %+v, want alice's principal %+v and groups", l.User, who)
	}
	if st, ae := e.errorOf("bob", "POST", "/v1/links/slack", api.SlackLinkBody{Code: code}); st != http.StatusNotFound || ae.Hint == "" {
		t.Fatalf("bob reusing alice's code: %d %+v", st, ae)
	}
	if st, ae := e.errorOf("bob", "POST", "/v1/links/slack", api.SlackLinkBody{Code: "nope"}); st != http.StatusBadRequest || ae.Hint == "" {
		t.Fatalf("a malformed code: %d %+v", st, ae)
	}
	out = api.SlackLinks{}
	if st := e.call("bob", "GET", "/v1/links/slack", nil, &out); st != http.StatusOK || len(out.Links) != 0 {
		t.Fatalf("bob's links: %d %+v", st, out)
	}
	if st := e.call("alice", "DELETE", "/v1/links/slack", nil, &out); st != http.StatusOK || out.Removed != 1 {
		t.Fatalf("unlink: %d %+v", st, out)
	}
	if _, err := links.Lookup(context.Background(), "T0JIT", "U-ALICE"); err != slacklink.ErrNotLinked {
		t.Fatalf("after DELETE: %v", err)
	}
}

func TestSlackLinkOnAServerWithoutSlackSaysSo(t *testing.T) {
	e := newEnv(t)
	st, ae := e.errorOf("alice", "POST", "/v1/links/slack", api.SlackLinkBody{Code: "ABCDE-12345"})
	if st != http.StatusNotFound || !contains(ae.Message, "does not take requests from Slack") || ae.Hint == "" {
		t.Fatalf("%d %+v", st, ae)
	}
}
