// Package vend turns an approved grant into short-lived AWS credentials with
// sts:AssumeRole, bounded so that they stop working when the grant ends.
package vend

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Input is everything needed to vend one grant's credentials.
type Input struct {
	RoleARN   string
	RequestID string
	User      string // the requester's jit identity (email or subject)
	// GrantEndsAt bounds the credentials: a session policy denies everything
	// once aws:CurrentTime passes it.
	GrantEndsAt time.Time
	// MaxSessionDuration is the role's limit (1–12 h, AWS default 1 h).
	MaxSessionDuration time.Duration
	// SessionPolicy is the role's optional extra session policy (JSON).
	SessionPolicy string
	// Tags are more session tags (key → value), such as a workload's
	// repository and run id, so CloudTrail ties its calls to the CI run.
	Tags map[string]string
}

// Credentials are what STS returned.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Vendor vends credentials. The server depends on this interface only.
type Vendor interface {
	Vend(ctx context.Context, in Input, now time.Time) (Credentials, error)
}

// String never shows the secret parts.
func (c Credentials) String() string {
	return fmt.Sprintf("credentials{key=%s expires=%s}", c.AccessKeyID, c.Expiration.UTC().Format(time.RFC3339))
}

// LogValue keeps the secret and the session token out of structured logs.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("access_key_id", c.AccessKeyID),
		slog.Time("expiration", c.Expiration),
	)
}

// GoString keeps %#v from printing the secret parts too.
func (c Credentials) GoString() string { return c.String() }
