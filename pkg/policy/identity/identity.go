// Package identity holds the rules that say whether a person is a
// request's requester or made one of its decisions — the ground of "nobody
// approves their own request" and "one person fills one approval slot".
// They are policy, not wire format, so they live on the policy side rather
// than on pkg/api's types; they are a package of their own (importing only
// pkg/api) because both pkg/policy (who may decide) and pkg/lifecycle (which
// refuses an illegal approval itself) apply them, and lifecycle must not
// import policy.
package identity

import (
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// Requested reports whether u is r's requester: the same (issuer,
// subject). A request stored before principals existed (no
// RequesterSubject) is matched by its stored requester name (legacyMatch).
func Requested(u api.User, r *api.Request) bool {
	if r.RequesterSubject != "" {
		return u.Subject != "" && r.RequesterIssuer == u.Issuer && r.RequesterSubject == u.Subject
	}
	return legacyMatch(u, r.Requester)
}

// MayHaveRequested is Requested, widened for refusals: it is also true
// when u's verified email is the requester's. Self-approval checks use it,
// so neither a second account nor another channel with the same verified
// email approves the requester's own request.
func MayHaveRequested(u api.User, r *api.Request) bool {
	return Requested(u, r) || (u.Email != "" && strings.EqualFold(u.Email, r.RequesterEmail))
}

// Decided reports whether u made the decision d: the same (issuer,
// subject), or, for a decision stored before principals, the same stored
// name.
func Decided(u api.User, d api.Decision) bool {
	if d.Subject != "" {
		return u.Subject != "" && d.Issuer == u.Issuer && d.Subject == u.Subject
	}
	return legacyMatch(u, d.By)
}

// MayHaveDecided is Decided, widened like MayHaveRequested: also true when
// u's verified email is the one recorded with the decision, and whenever
// one side is a Slack identity (known only by its email) and the other has
// no verified email: they cannot be told apart, so one person never fills
// two approval slots through Slack and an email-less token.
func MayHaveDecided(u api.User, d api.Decision) bool {
	return Decided(u, d) || (u.Email != "" && strings.EqualFold(u.Email, d.Email)) ||
		(d.Issuer == api.SlackIssuer && u.Email == "") || (u.Issuer == api.SlackIssuer && d.Email == "")
}

// LegacyNames are the names records stored before principals existed may
// carry for u: its verified email, and its subject unless shaped like an
// email (the store's filter for "my requests").
func LegacyNames(u api.User) []string {
	var out []string
	if u.Email != "" {
		out = append(out, u.Email)
	}
	if u.Subject != "" && !strings.Contains(u.Subject, "@") {
		out = append(out, u.Subject)
	}
	return out
}

// legacyMatch reports whether id, the name a record stored before
// principals (jit ≤ 0.x kept only the email, else the subject) carries,
// names u. It matches u's verified email, or u's subject when the subject is
// not shaped like an email, so a token whose subject merely looks like
// carol@example.com never owns carol's old records.
func legacyMatch(u api.User, id string) bool {
	if id == "" {
		return false
	}
	if u.Email != "" && api.SameName(u.Email, id) {
		return true
	}
	return !strings.Contains(u.Subject, "@") && u.Subject == id
}
