// Package freshness is the CLI's one rule for whether credentials are still
// good: when they end (the earliest of their expiry, their STS session's and
// their grant's), whether they are fresh for a while yet, whether a cached
// copy may be served as it is, and whether it has ended and must be wiped.
// The keyring cache, the session, the slim credential_process and the
// credential_process document all ask here, so they cannot disagree. It
// imports only pkg/api and the standard library, so the slim path stays
// slim.
package freshness

import (
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// MinRemaining is the least lifetime credentials must have to be served.
// credential_process writes Expiration in whole seconds and the SDKs check
// it after starting jit, so credentials in their last seconds would reach an
// SDK already expired (botocore: "the refreshed credentials are still
// expired"); in those seconds jit says the grant has ended instead.
const MinRemaining = 5 * time.Second

// DefaultRefreshWindow: credentials whose STS session ends this soon are
// re-vended when the grant outlives them.
const DefaultRefreshWindow = 5 * time.Minute

// Ends is when credentials stop being usable: the earliest non-zero of
// Expiration, STSExpiration and GrantEndsAt. The server already sets
// Expiration to the earlier of the last two; this is the defensive check that
// a grant's end is never exceeded even if a server or an old cache item did
// not. The zero time means the credentials carry no expiry at all.
func Ends(c api.Credentials) time.Time {
	exp := c.Expiration
	for _, t := range []time.Time{c.STSExpiration, c.GrantEndsAt} {
		if !t.IsZero() && (exp.IsZero() || t.Before(exp)) {
			exp = t
		}
	}
	return exp
}

// Fresh reports whether c is usable for at least window more at now.
// Credentials without any expiry are never fresh.
func Fresh(c api.Credentials, now time.Time, window time.Duration) bool {
	exp := Ends(c)
	return !exp.IsZero() && now.Add(window).Before(exp)
}

// Ended reports whether c is unusable at now: what the cache and the session
// wipe.
func Ended(c api.Credentials, now time.Time) bool { return !Fresh(c, now, 0) }

// Servable reports whether cached credentials may be served at now as they
// are: fresh for at least MinRemaining, and not so close to an STS expiry
// that the grant outlives that a fresh vend is due (refreshWindow; 0 means
// DefaultRefreshWindow). It is the whole cache-hit rule, shared by the
// session and the slim credential_process.
func Servable(c api.Credentials, now time.Time, refreshWindow time.Duration) bool {
	if !Fresh(c, now, MinRemaining) {
		return false
	}
	if refreshWindow == 0 {
		refreshWindow = DefaultRefreshWindow
	}
	stsEnds := c.STSExpiration
	if stsEnds.IsZero() {
		stsEnds = c.Expiration
	}
	if c.GrantEndsAt.After(stsEnds) && !now.Add(refreshWindow).Before(stsEnds) {
		return false // the grant goes on: vend a longer session now
	}
	return true
}
