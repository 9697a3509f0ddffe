package config

// This file holds the two value types that redact themselves when printed,
// logged or marshalled: DSN (its password) and Secret (all of it).

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
)

// DSN is a database address; its password is redacted when printed.
type DSN string

// Driver is "sqlite" or "postgres".
func (d DSN) Driver() string {
	s, _, _ := strings.Cut(string(d), "://")
	if s == "postgresql" {
		return "postgres"
	}
	return s
}

// SQLitePath is the file of a sqlite:// DSN ("sqlite:///var/lib/jit.db" →
// "/var/lib/jit.db", "sqlite://jit.db" → "jit.db").
func (d DSN) SQLitePath() string {
	_, p, _ := strings.Cut(string(d), "://")
	return p
}

// String redacts the password in every form pgx accepts: URL userinfo
// (postgres://jit:PASS@db/jit), a query parameter (?password=PASS, also
// sslpassword, with the key in any case or percent-encoded) and the
// keyword form (host=db password=PASS or password='P A S S'). A URL that
// does not parse shows its scheme only.
func (d DSN) String() string {
	s := string(d)
	scheme, _, isURL := strings.Cut(s, "://")
	if !isURL {
		return keywordSecret.ReplaceAllString(s, "${1}xxxxx")
	}
	u, err := url.Parse(s)
	if err != nil {
		return scheme + "://[unparsable dsn redacted]"
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		switch {
		case err != nil:
			u.RawQuery = "[redacted]"
		case hasSecretKey(q):
			for k := range q {
				if isSecretKey(k) {
					q[k] = []string{"xxxxx"}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// keywordSecret matches a password in pgx's keyword form: group 1 is the
// key and its "=", group 2 the value, quoted (with \' escapes) or not.
var keywordSecret = regexp.MustCompile(`(?i)((?:^|\s)(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*)`)

func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	return k == "password" || k == "sslpassword"
}

func hasSecretKey(q url.Values) bool {
	for k := range q {
		if isSecretKey(k) {
			return true
		}
	}
	return false
}

// secrets returns the passwords d holds, as written and as decoded.
func (d DSN) secrets() []string {
	s := string(d)
	var out []string
	add := func(v ...string) {
		for _, x := range v {
			if x != "" && x != "xxxxx" {
				out = append(out, x, url.QueryEscape(x), url.PathEscape(x))
			}
		}
	}
	if _, _, isURL := strings.Cut(s, "://"); !isURL {
		for _, m := range keywordSecret.FindAllStringSubmatch(s, -1) {
			v := m[2]
			add(v, strings.Trim(v, "'"), strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(strings.Trim(v, "'")))
		}
		return out
	}
	u, err := url.Parse(s)
	if err != nil {
		return out
	}
	if p, ok := u.User.Password(); ok {
		add(p)
	}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil && isSecretKey(dk) {
			dv, _ := url.QueryUnescape(v)
			add(v, dv)
		}
	}
	return out
}

// Scrub replaces every password d holds in text (an error from the
// database driver may repeat the DSN in its own way).
func (d DSN) Scrub(text string) string {
	for _, p := range d.secrets() {
		text = strings.ReplaceAll(text, p, "xxxxx")
	}
	return text
}

// ScrubError is err with d's passwords replaced in its message; errors.Is
// and errors.As still see err.
func (d DSN) ScrubError(err error) error {
	if err == nil {
		return nil
	}
	return &scrubbed{msg: d.Scrub(err.Error()), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// MarshalText redacts the password.
func (d DSN) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LogValue redacts the password.
func (d DSN) LogValue() slog.Value { return slog.StringValue(d.String()) }

// Secret is a string that is never printed, logged or marshalled. Use
// Reveal where the value itself is needed.
type Secret string

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String redacts.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts (%#v).
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue redacts.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
