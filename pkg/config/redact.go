package config

// This file holds the two value types that redact themselves when printed,
// logged or marshalled: DSN (its password) and Secret (all of it).

import (
	"log/slog"
	"net/url"
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

// String redacts the password.
func (d DSN) String() string {
	u, err := url.Parse(string(d))
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(string(d), "@") {
			return "[unparsable dsn redacted]"
		}
		return string(d)
	}
	return u.Redacted()
}

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
