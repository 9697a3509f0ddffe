// Package secureurl is the CLI's one rule for where it may send tokens:
// https, or plain http only to this machine (loopback), where nothing
// travels over a network.
package secureurl

import (
	"fmt"
	"net"
	"net/url"
	"strings"
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

// Loopback reports whether host (no port) is this machine: localhost (and
// names under .localhost, RFC 6761), 127.0.0.0/8 or ::1.
func Loopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
