package webapp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/jit-access/jit/pkg/api"
)

// This file is the sign-in flow: the authorization code flow with PKCE at the IdP, the callback, the sealed session cookie, logout and CSRF checks.

func (h *Handler) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider != nil {
		return h.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.opts.HTTPClient), h.opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover issuer %s: %w", h.opts.Issuer, err)
	}
	h.provider = p
	return p, nil
}

func (h *Handler) oauth2Config(p *oidc.Provider) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id in the form, no secret
	return &oauth2.Config{ClientID: h.opts.ClientID, Endpoint: ep, RedirectURL: h.RedirectURL(), Scopes: h.opts.Scopes}
}

// startLogin sends the browser to the IdP, remembering (sealed, in a
// short-lived cookie) the state, nonce and PKCE verifier it must come back
// with, and where to go afterwards. fresh asks the IdP to make the user
// type their credentials again (prompt=login, max_age): deciding needs it.
func (h *Handler) startLogin(w http.ResponseWriter, r *http.Request, returnTo string, fresh bool) {
	if !sameOriginPath(returnTo) {
		returnTo = AppPrefix
	}
	p, err := h.oidcProvider(r.Context())
	if err != nil {
		h.log.Error("web sign-in: identity provider unavailable", "err", err)
		h.message(w, http.StatusServiceUnavailable, "Sign-in unavailable", "The server cannot reach the identity provider. Try again shortly.", "")
		return
	}
	state, err1 := randomToken()
	nonce, err2 := randomToken()
	if err := errors.Join(err1, err2); err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "No randomness available.", "")
		return
	}
	ls := loginState{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), ReturnTo: returnTo,
		Expires: h.opts.Now().Add(loginTTL).Unix(), Fresh: fresh}
	sealed, err := h.sealer.seal(h.loginCookie, ls)
	if err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "Could not start the sign-in.", "")
		return
	}
	h.setCookie(w, h.loginCookie, sealed, h.opts.Now().Add(loginTTL))
	h.setCookie(w, h.sessionCookie, "", time.Time{}) // a stale session is gone for good
	params := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(ls.Verifier), oidc.Nonce(nonce)}
	if fresh {
		// Ask the IdP to make the user type their credentials again.
		params = append(params, oauth2.SetAuthURLParam("prompt", "login"),
			oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(h.opts.MaxLoginAge/time.Second))))
	}
	http.Redirect(w, r, h.oauth2Config(p).AuthCodeURL(state, params...), http.StatusFound)
}

// callback finishes the code flow: state and the login cookie bind it to
// this browser, PKCE binds the code to it, the nonce binds the ID token to
// it, the token must verify as a person with the API's verifier, and for a
// fresh sign-in auth_time must be within MaxLoginAge.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h.setCookie(w, h.loginCookie, "", time.Time{}) // one use, whatever happens
	var ls loginState
	c, err := r.Cookie(h.loginCookie)
	if err != nil || h.sealer.open(h.loginCookie, c.Value, &ls) != nil || h.opts.Now().Unix() > ls.Expires {
		h.refuse(w, http.StatusBadRequest, "sign-in callback without a live sign-in in this browser", "This sign-in expired or was started in another browser.")
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		h.log.Info("web sign-in refused by the identity provider", "error", e)
		h.message(w, http.StatusUnauthorized, "Sign-in refused", "The identity provider said: "+e+" "+q.Get("error_description"), ls.ReturnTo)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1 {
		h.refuse(w, http.StatusBadRequest, "sign-in callback state mismatch", "This sign-in does not match the one this browser started.")
		return
	}
	p, err := h.oidcProvider(ctx)
	if err != nil {
		h.message(w, http.StatusServiceUnavailable, "Sign-in unavailable", "The server cannot reach the identity provider. Try again shortly.", "")
		return
	}
	octx := oidc.ClientContext(ctx, h.opts.HTTPClient)
	tok, err := h.oauth2Config(p).Exchange(octx, q.Get("code"), oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		h.log.Info("web sign-in: code exchange failed", "err", err)
		h.message(w, http.StatusUnauthorized, "Sign-in failed", "The identity provider did not accept the sign-in code.", ls.ReturnTo)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	now, skew := h.opts.Now, h.opts.ClockSkew
	idt, err := p.VerifierContext(octx, &oidc.Config{ClientID: h.opts.ClientID,
		Now: func() time.Time { return now().Add(-skew) }}).Verify(octx, raw)
	if err != nil {
		h.log.Info("web sign-in: ID token refused", "err", err)
		h.message(w, http.StatusUnauthorized, "Sign-in failed", "The identity provider's ID token did not verify.", ls.ReturnTo)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		h.refuse(w, http.StatusBadRequest, "sign-in ID token nonce mismatch", "The ID token was not issued for this sign-in.")
		return
	}
	var claims struct {
		AuthTime int64 `json:"auth_time"`
	}
	_ = idt.Claims(&claims)
	authTime := idt.IssuedAt
	if claims.AuthTime > 0 {
		authTime = time.Unix(claims.AuthTime, 0)
	}
	// The API's verifier has the last word: a token it refuses, or a
	// workload's, never becomes a session.
	u, err := h.opts.Verifier.Verify(ctx, raw)
	if err != nil || u.IsWorkload() {
		why := "the API does not accept the token"
		if err == nil {
			why = "the token is a workload's"
		}
		h.log.Warn("sign-in refused", "why", why, "err", err)
		h.message(w, http.StatusForbidden, "Sign-in refused", "This sign-in cannot use jit: "+why+". Sign in as a person with the identity provider the CLI uses.", "")
		return
	}
	if ls.Fresh && h.opts.Now().Sub(authTime) > h.opts.MaxLoginAge+skew {
		h.log.Warn("web sign-in: identity provider did not re-authenticate", "subject", idt.Subject, "auth_time", authTime)
		h.message(w, http.StatusUnauthorized, "Sign-in too old",
			fmt.Sprintf("Approving needs a sign-in within %s, but the identity provider reused one from %s.", api.FormatDuration(h.opts.MaxLoginAge), when(authTime)), ls.ReturnTo)
		return
	}
	csrf, err := randomToken()
	if err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "No randomness available.", "")
		return
	}
	expires := idt.Expiry
	sealed, err := h.sealer.seal(h.sessionCookie, session{IDToken: raw, Issuer: u.Issuer, Subject: u.Subject,
		AuthTime: authTime.Unix(), Expires: expires.Unix(), CSRF: csrf})
	if err != nil {
		h.message(w, http.StatusInternalServerError, "Sign-in failed", "Could not store the session.", "")
		return
	}
	h.setCookie(w, h.sessionCookie, sealed, expires)
	h.log.Info("signed in to the web app", "subject", idt.Subject, "until", expires)
	http.Redirect(w, r, ls.ReturnTo, http.StatusSeeOther)
}

// session returns the live session, or nil: none, forged, or its token
// expired.
func (h *Handler) session(r *http.Request) *session {
	c, err := r.Cookie(h.sessionCookie)
	if err != nil {
		return nil
	}
	var s session
	if h.sealer.open(h.sessionCookie, c.Value, &s) != nil {
		return nil
	}
	if h.opts.Now().Unix() >= s.Expires {
		return nil
	}
	return &s
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if s := h.session(r); s != nil && !h.csrfOK(r, s) {
		h.refuse(w, http.StatusForbidden, "logout with a bad CSRF token", "This form is not from this server's page.")
		return
	}
	h.setCookie(w, h.sessionCookie, "", time.Time{})
	h.message(w, http.StatusOK, "Signed out", "You are signed out of jit's web app.", AppPrefix)
}

// fresh reports whether the session's sign-in is recent enough to decide.
func (h *Handler) fresh(s *session) bool {
	return h.opts.Now().Sub(time.Unix(s.AuthTime, 0)) <= h.opts.MaxLoginAge
}

// csrfOK checks the form's token against the session's and, when the
// browser says where the form came from, that it came from here.
func (h *Handler) csrfOK(r *http.Request, s *session) bool {
	if o := r.Header.Get("Origin"); o != "" && o != h.public.String() {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// sameOriginPath accepts only a path of this app (/web/ or /approve/): no
// scheme, no host, no "//", dot-segment or backslash tricks.
func sameOriginPath(p string) bool {
	if !(strings.HasPrefix(p, PathPrefix) || strings.HasPrefix(p, AppPrefix)) || strings.Contains(p, "//") || strings.Contains(p, "/.") || strings.ContainsAny(p, "\\\r\n?#") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.Path == p
}
