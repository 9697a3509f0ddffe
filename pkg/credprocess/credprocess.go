// Package credprocess turns jit credentials into the JSON document that the
// AWS SDKs and CLI read from a credential_process command's stdout. It is pure:
// no I/O beyond the writer it is handed, no clock.
package credprocess

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/freshness"
)

// Version is the only credential_process document version AWS defines.
const Version = 1

// Output is the credential_process document:
//
//	{"Version":1,"AccessKeyId":"…","SecretAccessKey":"…","SessionToken":"…","Expiration":"2006-01-02T15:04:05Z"}
//
// Field names and order follow the AWS contract exactly; Expiration is RFC 3339
// in UTC so that every SDK (and botocore's 15-minute refresh) reads it the same.
type Output struct {
	Version         int       `json:"Version"`
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"SessionToken"`
	Expiration      time.Time `json:"-"`
}

// String never shows the secret parts, so an Output can be logged or wrapped
// in an error by mistake without leaking.
func (o Output) String() string {
	return fmt.Sprintf("credprocess.Output{key=%s expires=%s}", o.AccessKeyID, o.Expiration.UTC().Format(time.RFC3339))
}

// GoString redacts like String, so %#v is safe too.
func (o Output) GoString() string { return o.String() }

// wire is Output as written: Expiration as an RFC 3339 UTC string, whole seconds.
type wire struct {
	Version         int    `json:"Version"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	SessionToken    string `json:"SessionToken"`
	Expiration      string `json:"Expiration"`
}

// MarshalJSON writes the contract's form. Expiration is truncated to whole
// seconds, never rounded up, so a client never believes credentials live
// longer than they do.
func (o Output) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{
		Version:         o.Version,
		AccessKeyID:     o.AccessKeyID,
		SecretAccessKey: o.SecretAccessKey,
		SessionToken:    o.SessionToken,
		Expiration:      o.Expiration.UTC().Truncate(time.Second).Format(time.RFC3339),
	})
}

// FromCredentials builds the document for c, with Expiration set to
// freshness.Ends(c), so a grant's end is never exceeded.
func FromCredentials(c api.Credentials) Output {
	return Output{
		Version:         Version,
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Expiration:      freshness.Ends(c),
	}
}

// Errors from Validate, for errors.Is.
var (
	ErrIncomplete = errors.New("credentials incomplete")
	ErrNoExpiry   = errors.New("credentials have no expiration")
)

// Validate reports whether o is a document the SDKs accept and jit should
// emit: version 1, key id and secret present, and an expiration (jit never
// hands out credentials without one).
func (o Output) Validate() error {
	switch {
	case o.Version != Version:
		return fmt.Errorf("credential_process version %d, want %d", o.Version, Version)
	case o.AccessKeyID == "" || o.SecretAccessKey == "":
		return fmt.Errorf("credential_process output: %w (access key id or secret missing)", ErrIncomplete)
	case o.Expiration.IsZero():
		return fmt.Errorf("credential_process output: %w", ErrNoExpiry)
	}
	return nil
}

// Write validates o and writes it to w as one JSON line, which is all a
// credential_process command may print on stdout.
func Write(w io.Writer, o Output) error {
	if err := o.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode credential_process output: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write credential_process output: %w", err)
	}
	return nil
}
