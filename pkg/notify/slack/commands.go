package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/slacklink"
	"github.com/jit-access/jit/pkg/store"
)

// CommandsPath is where Slack's slash command (/jit) is served.
const CommandsPath = "/slack/commands"

// Links is what the slash command asks of the Slack account links
// (pkg/slacklink.Service).
type Links interface {
	NewCode(ctx context.Context, teamID, userID, slackEmail string) (string, time.Time, error)
	Lookup(ctx context.Context, teamID, userID string) (store.SlackLink, error)
	Unlink(ctx context.Context, teamID, userID, via string) (store.SlackLink, error)
}

var _ Links = (*slacklink.Service)(nil)

// asyncTimeout bounds the work a slash command or a modal submission does
// after it was acknowledged.
const asyncTimeout = 30 * time.Second

// command is one verified slash command call.
type command struct {
	TeamID, UserID, Command, Text, TriggerID, ResponseURL string
}

// verified reads a Slack call's body and checks it the way interactivity
// is checked: the signature under the signing secret, the timestamp
// within Window, a first use across every replica (the replay store). It
// answers w with the refusal and reports false when any fails.
func (s *Sink) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	now := s.o.Now()
	ts, ok := s.authentic(w, r, body, now)
	if !ok {
		return nil, false
	}
	// The replay key is what the signature covers — the timestamp and the
	// body — not the signature header, which verifies in any hex case. It
	// is kept in the store, so every replica refuses a replay.
	// The key outlives the window by another window: a replica whose clock
	// runs behind still accepts ts after one on time has pruned the key.
	first, err := s.o.Store.FirstUse(r.Context(), ReplayKey(ts, body), time.Unix(ts, 0).Add(2*Window), now)
	if err != nil {
		s.o.Logger.Error("slack: replay check failed", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return nil, false
	}
	if !first {
		s.o.Logger.Warn("slack call refused: replayed", "path", r.URL.Path)
		http.Error(w, "replayed request", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// ourTeam refuses a call from another workspace than TeamID (a signing
// secret is per app, and an app may be installed in several workspaces).
func (s *Sink) ourTeam(w http.ResponseWriter, team string) bool {
	if team != s.o.TeamID {
		s.o.Logger.Warn("slack call refused: another workspace", "team_id", team)
		http.Error(w, "wrong workspace", http.StatusForbidden)
		return false
	}
	return true
}

// handleCommand answers /jit. It acknowledges at once (Slack waits 3 s)
// and does the work afterwards, answering the caller alone through the
// response_url: `/jit link` gives a one-time link code, `/jit unlink`
// removes the link, `/jit` (or `/jit request`) opens the request form for
// a linked account and tells an unlinked one how to link.
func (s *Sink) handleCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !s.ourTeam(w, form.Get("team_id")) {
		return
	}
	c := command{TeamID: form.Get("team_id"), UserID: form.Get("user_id"), Command: form.Get("command"),
		Text: strings.TrimSpace(form.Get("text")), TriggerID: form.Get("trigger_id"), ResponseURL: form.Get("response_url")}
	if c.UserID == "" {
		http.Error(w, "no user", http.StatusBadRequest)
		return
	}
	if c.Command == "" {
		c.Command = "/jit"
	}
	s.async(r.Context(), func(ctx context.Context) { s.runCommand(ctx, c) })
	w.WriteHeader(http.StatusOK) // the answer follows on the response_url
}

// async runs fn after the HTTP answer, detached from the call but bounded
// by asyncTimeout; Wait waits for every such fn.
func (s *Sink) async(parent context.Context, fn func(ctx context.Context)) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), asyncTimeout)
		defer cancel()
		fn(ctx)
	}()
}

// Wait waits for the work slash commands and modal submissions started
// after their acknowledgement (tests; a graceful stop).
func (s *Sink) Wait() { s.work.Wait() }

func (s *Sink) runCommand(ctx context.Context, c command) {
	verb, _, _ := strings.Cut(c.Text, " ")
	var text string
	switch strings.ToLower(verb) {
	case "link":
		text = s.linkCode(ctx, c)
	case "unlink":
		text = s.unlink(ctx, c)
	case "help":
		text = helpText(c.Command)
	case "", "request":
		text = s.openRequest(ctx, c)
	default:
		text = fmt.Sprintf("`%s %s` is not a jit command.\n%s", c.Command, escape(c.Text), helpText(c.Command))
	}
	if text != "" {
		s.tell(ctx, c.ResponseURL, text)
	}
}

func helpText(cmd string) string {
	return fmt.Sprintf("*%[1]s* opens the access request form.\n*%[1]s link* links your Slack account to your jit login (once).\n*%[1]s unlink* removes that link.", cmd)
}

// tell answers the caller alone (ephemeral) on the response_url.
func (s *Sink) tell(ctx context.Context, responseURL, text string) {
	if responseURL == "" || !strings.HasPrefix(responseURL, s.o.ResponseURLPrefix) {
		s.o.Logger.Warn("slack: no usable response_url for an answer")
		return
	}
	s.respond(ctx, responseURL, Answer{ResponseType: "ephemeral", Text: text})
}

// HowToLink is what an unlinked Slack user is told.
func HowToLink(cmd string) string {
	return fmt.Sprintf("Your Slack account is not linked to a jit login yet, so jit does not know who you are. "+
		"To link it (once): type `%s link`; it shows you a one-time code. Then, in a terminal where you are logged in "+
		"to jit (`jit login`), run `jit link slack CODE`.", cmd)
}

func (s *Sink) linkCode(ctx context.Context, c command) string {
	if s.o.Links == nil {
		return "This jit server does not link Slack accounts."
	}
	code, exp, err := s.o.Links.NewCode(ctx, c.TeamID, c.UserID, s.confirmedEmail(ctx, c.UserID))
	if err != nil {
		s.o.Logger.Error("slack: link code failed", "slack_user", c.UserID, "err", err)
		return "jit could not make a link code just now; try again in a minute."
	}
	return fmt.Sprintf("Your one-time link code is `%s`. It works once, until %s.\n"+
		"In a terminal where you are logged in to jit as yourself (`jit login`), run:\n```jit link slack %s```\n"+
		"Run it yourself, and never run a code someone else sent you: the Slack account that made the code "+
		"requests as whoever runs it.", code, slackDate(exp), code)
}

func (s *Sink) unlink(ctx context.Context, c command) string {
	if s.o.Links == nil {
		return "This jit server does not link Slack accounts."
	}
	l, err := s.o.Links.Unlink(ctx, c.TeamID, c.UserID, "slack")
	switch {
	case errors.Is(err, slacklink.ErrNotLinked):
		return "Your Slack account was not linked to jit; nothing to unlink."
	case err != nil:
		s.o.Logger.Error("slack: unlink failed", "slack_user", c.UserID, "err", err)
		return "jit could not unlink your account just now; try again in a minute, or run `jit link slack --remove`."
	}
	return fmt.Sprintf("Your Slack account is no longer linked to %s. To request from Slack again: `%s link`.", escape(l.User.ID()), c.Command)
}

// linked is the Slack user's link, or the message telling them why they
// may not request (not linked, link expired).
func (s *Sink) linked(ctx context.Context, c command) (store.SlackLink, string) {
	if s.o.Links == nil {
		return store.SlackLink{}, "This jit server does not take requests from Slack."
	}
	l, err := s.o.Links.Lookup(ctx, c.TeamID, c.UserID)
	var expired *slacklink.ExpiredError
	switch {
	case errors.Is(err, slacklink.ErrNotLinked):
		return l, HowToLink(c.Command)
	case errors.As(err, &expired):
		return l, fmt.Sprintf("Your Slack account's link to %s has expired (links carry the groups of the sign-in that made them, so they are renewed). "+
			"Link again: type `%s link`, then run `jit link slack CODE`.", escape(l.User.ID()), c.Command)
	case err != nil:
		s.o.Logger.Error("slack: link lookup failed", "slack_user", c.UserID, "err", err)
		return l, "jit could not look up your account just now; try again in a minute."
	}
	return l, ""
}

// confirmedEmail is the Slack account's confirmed email, or "" when Slack
// does not tell it (no users:read.email scope, an error, a slow answer).
func (s *Sink) confirmedEmail(ctx context.Context, slackUser string) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	info, err := s.api().GetUserInfoContext(ctx, slackUser)
	if err != nil || !info.IsEmailConfirmed {
		return ""
	}
	return info.Profile.Email
}
