// Package secureurl is the CLI's one rule for where it may send tokens:
// https, or plain http only to this machine (loopback), where nothing
// travels over a network.
package secureurl

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// InsecureError says a URL would carry tokens in clear text over a network.
type InsecureError struct {
	What string // "server URL", "OIDC issuer", …
	URL  string
}

func (e *InsecureError) Error() string {
	return fmt.Sprintf("%s %s uses plain http: tokens would cross the network in clear text; use https:// "+
		"(plain http is allowed only for loopback: localhost, 127.0.0.0/8, ::1)", e.What, e.URL)
}

// Check parses raw and refuses it unless it is https, or http to a
// loopback host. what names the URL in the error ("server URL").
func Check(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s %q must be an https:// URL such as https://jit.example.com", what, raw)
	}
	if u.Scheme == "http" && !Loopback(u.Hostname()) {
		return nil, &InsecureError{What: what, URL: raw}
	}
	return u, nil
}

// Loopback reports whether host (no port) is this machine: localhost,
// 127.0.0.0/8 or ::1. Names under .localhost (RFC 6761) do not count: Go's
// resolver asks the network's DNS for them.
func Loopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// maxRedirects is Go's own default limit.
const maxRedirects = 10

// CheckRedirect is an http.Client.CheckRedirect that applies Check to every
// redirect target: an https URL that redirects to plain http off loopback
// would otherwise carry the request (Go keeps the Authorization header when
// the host stays the same, and a 307/308 resends the body) in clear text.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if _, err := Check("redirect target", req.URL.String()); err != nil {
		return err
	}
	return nil
}

// Guard returns hc (a new client with timeout when nil) with CheckRedirect
// set, unless it already has its own policy.
func Guard(hc *http.Client, timeout time.Duration) *http.Client {
	if hc == nil {
		return &http.Client{Timeout: timeout, CheckRedirect: CheckRedirect}
	}
	if hc.CheckRedirect != nil {
		return hc
	}
	c := *hc
	c.CheckRedirect = CheckRedirect
	return &c
}
