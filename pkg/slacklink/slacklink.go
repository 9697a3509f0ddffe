// Package slacklink binds Slack accounts to IdP principals, so that a
// request made in Slack is a known person's: `/jit link` gives the Slack
// user a one-time, short-lived code bound to their Slack user and
// workspace; `jit link slack CODE`, run with that person's jit login,
// redeems it and links the Slack account to the login's principal (issuer,
// subject) with the attributes the sign-in verified (username, verified
// email, groups). A Slack email alone never links anyone. Linking and
// unlinking are audited (slack.linked, slack.unlinked).
package slacklink

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// Defaults.
const (
	// DefaultCodeTTL is how long a code from `/jit link` may be redeemed.
	DefaultCodeTTL = 10 * time.Minute
	// DefaultMaxAge is how long a link lasts before the person signs in to
	// link again (its groups are those of the sign-in that made it).
	DefaultMaxAge = 30 * 24 * time.Hour
)

// Store is what the links need of the store.
type Store interface {
	store.SlackLinks
	Append(ctx context.Context, events ...audit.Event) error
}

// Options configure the Service.
type Options struct {
	Store Store
	// TeamID is the Slack workspace this server serves (notify.slack.team_id).
	TeamID string
	// CodeTTL is how long a code may be redeemed [DefaultCodeTTL].
	CodeTTL time.Duration
	// MaxAge is how long a link lasts [DefaultMaxAge].
	MaxAge time.Duration
	Now    func() time.Time
	// Rand is the codes' randomness [crypto/rand].
	Rand io.Reader
}

// Service issues, redeems and removes links.
type Service struct{ o Options }

// New checks the options.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.TeamID == "" {
		return nil, errors.New("slacklink: a store and the Slack team id are required")
	}
	if o.CodeTTL <= 0 {
		o.CodeTTL = DefaultCodeTTL
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Service{o: o}, nil
}

// CodeTTL is how long a new code may be redeemed.
func (s *Service) CodeTTL() time.Duration { return s.o.CodeTTL }

// alphabet is Crockford's base32 without the look-alikes a person misreads
// (no I, L, O, U): 32 symbols, 5 bits each.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// codeLen symbols make 50 bits: with codes living 10 minutes, guessing one
// online is hopeless.
const codeLen = 10

// NewCode stores and returns a one-time code for the Slack user userID of
// workspace teamID, and when it expires. slackEmail is the account's
// confirmed email when Slack told it ("" otherwise).
func (s *Service) NewCode(ctx context.Context, teamID, userID, slackEmail string) (string, time.Time, error) {
	raw := make([]byte, codeLen)
	if _, err := io.ReadFull(s.o.Rand, raw); err != nil {
		return "", time.Time{}, err
	}
	var b strings.Builder
	for i, c := range raw {
		if i == codeLen/2 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[int(c)%len(alphabet)]) // 256 is a multiple of 32: no bias
	}
	code := b.String()
	now := s.o.Now()
	exp := now.Add(s.o.CodeTTL)
	err := s.o.Store.AddSlackLinkCode(ctx, store.SlackLinkCode{Hash: hash(code), TeamID: teamID, UserID: userID,
		SlackEmail: api.LowerASCII(slackEmail), Expires: exp}, now)
	return code, exp, err
}

// normalize is how a typed code compares: case, dashes and spaces do not
// matter; O and I/L read as 0 and 1 (Crockford).
func normalize(code string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	code = strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1").Replace(code)
	if len(code) != codeLen {
		return ""
	}
	return code[:codeLen/2] + "-" + code[codeLen/2:]
}

func hash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// retry is the hint of every refused code.
const retry = "type /jit link in Slack for a new code (a code works once, for a few minutes), then run: jit link slack CODE"

// Redeem links the Slack account that made code to u's principal, via the
// door via ("api"). It refuses a workload, a malformed, unknown, used or
// expired code, a code from another workspace than the server's, and a
// code whose Slack account has a confirmed email that is not u's verified
// one. Refusals are *api.Error with a hint; the ones that may be an attack
// (another workspace, another person's account, a workload) are audited as
// authz.denied.
func (s *Service) Redeem(ctx context.Context, u api.User, code, via string) (store.SlackLink, error) {
	if u.IsWorkload() {
		err := &api.Error{Code: api.CodeForbidden, Message: "a workload token (" + u.ID() + ") cannot link a Slack account",
			Hint: "link as a person: jit login, then jit link slack CODE"}
		s.refused(ctx, u, via, "", "", err)
		return store.SlackLink{}, err
	}
	n := normalize(code)
	if n == "" {
		return store.SlackLink{}, &api.Error{Code: api.CodeInvalid,
			Message: fmt.Sprintf("%q is not a link code (codes look like ABCDE-12345)", code), Hint: retry}
	}
	now := s.o.Now()
	var link store.SlackLink
	err := s.o.Store.RedeemSlackLinkCode(ctx, hash(n), func(c store.SlackLinkCode) (store.SlackLink, []audit.Event, error) {
		if !now.Before(c.Expires) {
			return store.SlackLink{}, nil, &api.Error{Code: api.CodeInvalid,
				Message: "this link code expired at " + c.Expires.UTC().Format(time.RFC3339), Hint: retry}
		}
		if c.TeamID != s.o.TeamID {
			return store.SlackLink{}, nil, &refusal{c, &api.Error{Code: api.CodeForbidden,
				Message: fmt.Sprintf("this link code comes from Slack workspace %s, which this jit server does not serve (it serves %s)", c.TeamID, s.o.TeamID),
				Hint:    "type /jit link in the workspace of your company's jit app"}}
		}
		if c.SlackEmail != "" && u.Email != "" && !api.SameName(c.SlackEmail, u.Email) {
			return store.SlackLink{}, nil, &refusal{c, &api.Error{Code: api.CodeForbidden,
				Message: fmt.Sprintf("this link code was made by a Slack account whose email is not yours (%s)", u.Email),
				Hint:    "link only your own Slack account: type /jit link in Slack yourself; never run a code someone sent you"}}
		}
		link = store.SlackLink{TeamID: c.TeamID, UserID: c.UserID, User: linkable(u), LinkedAt: now}
		return link, []audit.Event{s.event(audit.TypeSlackLinked, link, u.ID(), via,
			fmt.Sprintf("Slack user %s in %s linked to %s", c.UserID, c.TeamID, u.ID()))}, nil
	})
	var rf *refusal
	switch {
	case errors.As(err, &rf):
		s.refused(ctx, u, via, rf.code.TeamID, rf.code.UserID, rf.err)
		return store.SlackLink{}, rf.err
	case errors.Is(err, store.ErrNotFound):
		return store.SlackLink{}, &api.Error{Code: api.CodeNotFound, Message: "this link code is unknown or was already used", Hint: retry}
	}
	return link, err
}

// refusal is a code refused for a reason worth an audit record.
type refusal struct {
	code store.SlackLinkCode
	err  *api.Error
}

func (r *refusal) Error() string { return r.err.Error() }

// linkable is what a link keeps of the sign-in: the principal and the
// attributes policy matches, never a workload's claims.
func linkable(u api.User) api.User {
	return api.User{Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Username: u.Username,
		UsernameMissing: u.UsernameMissing, Name: u.Name, Groups: u.Groups, IssuerName: u.IssuerName}
}

func (s *Service) event(typ string, l store.SlackLink, actor, via, reason string) audit.Event {
	return audit.Event{Time: s.o.Now(), Type: typ, Actor: actor, Subject: l.User.ID(), Reason: reason,
		Detail: map[string]string{"team_id": l.TeamID, "slack_user": l.UserID, "issuer": l.User.Issuer,
			"subject": l.User.Subject, "via": via}}
}

func (s *Service) refused(ctx context.Context, u api.User, via, team, slackUser string, err *api.Error) {
	d := map[string]string{"path": "slack:link", "via": via, "issuer": u.Issuer, "subject": u.Subject}
	if team != "" {
		d["team_id"], d["slack_user"] = team, slackUser
	}
	_ = s.o.Store.Append(ctx, audit.Event{Time: s.o.Now(), Type: audit.TypeForbidden, Actor: u.ID(), Reason: err.Message, Detail: d})
}

// ErrNotLinked is Lookup's answer for a Slack account no sign-in linked.
var ErrNotLinked = errors.New("this Slack account is not linked to a jit sign-in")

// ExpiredError is Lookup's answer for a link older than the maximum age.
type ExpiredError struct{ Link store.SlackLink }

func (e *ExpiredError) Error() string {
	return "this Slack account's link to " + e.Link.User.ID() + " has expired"
}

// Lookup returns the principal a Slack account requests as: ErrNotLinked
// when there is no link, *ExpiredError when it is older than MaxAge.
func (s *Service) Lookup(ctx context.Context, teamID, userID string) (store.SlackLink, error) {
	if teamID != s.o.TeamID {
		return store.SlackLink{}, ErrNotLinked
	}
	l, err := s.o.Store.SlackLink(ctx, teamID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.SlackLink{}, ErrNotLinked
	case err != nil:
		return store.SlackLink{}, err
	case !s.o.Now().Before(s.ExpiresAt(l)):
		return l, &ExpiredError{Link: l}
	}
	return l, nil
}

// ExpiresAt is when l must be renewed.
func (s *Service) ExpiresAt(l store.SlackLink) time.Time { return l.LinkedAt.Add(s.o.MaxAge) }

// Unlink removes a Slack account's link, as that Slack user (via "slack");
// ErrNotLinked when there is none.
func (s *Service) Unlink(ctx context.Context, teamID, userID, via string) (store.SlackLink, error) {
	var gone store.SlackLink
	err := s.o.Store.DeleteSlackLink(ctx, teamID, userID, func(l store.SlackLink) []audit.Event {
		gone = l
		return []audit.Event{s.event(audit.TypeSlackUnlinked, l, "slack:"+userID, via,
			fmt.Sprintf("Slack user %s in %s unlinked from %s", userID, teamID, l.User.ID()))}
	})
	if errors.Is(err, store.ErrNotFound) {
		return gone, ErrNotLinked
	}
	return gone, err
}

// UnlinkPrincipal removes every Slack account linked to u's principal and
// returns them.
func (s *Service) UnlinkPrincipal(ctx context.Context, u api.User, via string) ([]store.SlackLink, error) {
	ls, err := s.o.Store.SlackLinksOf(ctx, u.Issuer, u.Subject)
	if err != nil {
		return nil, err
	}
	var out []store.SlackLink
	for _, l := range ls {
		err := s.o.Store.DeleteSlackLink(ctx, l.TeamID, l.UserID, func(l store.SlackLink) []audit.Event {
			return []audit.Event{s.event(audit.TypeSlackUnlinked, l, u.ID(), via,
				fmt.Sprintf("Slack user %s in %s unlinked from %s", l.UserID, l.TeamID, l.User.ID()))}
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // unlinked meanwhile
		}
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Links returns the Slack accounts linked to u's principal.
func (s *Service) Links(ctx context.Context, u api.User) ([]store.SlackLink, error) {
	return s.o.Store.SlackLinksOf(ctx, u.Issuer, u.Subject)
}

// APILink is l on the wire.
func (s *Service) APILink(l store.SlackLink) api.SlackLink {
	return api.SlackLink{TeamID: l.TeamID, UserID: l.UserID, Principal: l.User.ID(), LinkedAt: l.LinkedAt, ExpiresAt: s.ExpiresAt(l)}
}
