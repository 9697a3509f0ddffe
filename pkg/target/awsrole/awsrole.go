// Package awsrole is the AWS IAM role target (policy kind aws_role): access
// is STS credentials handed out on demand within a live grant, bounded by a
// session policy that denies everything after the grant's end. Starting a
// grant creates nothing. An early end (revoke, idle) writes the inline Deny
// on the role through the account's revoker (vend.IAMRevoker), when the
// server has one; without it, credentials already issued work until the
// grant's end. The STS and IAM mechanics are pkg/vend's; this package puts
// them behind target.Target.
package awsrole

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/vend"
)

// PropagationWindow is how long after the inline Deny is written a revoked
// session may still be served: IAM applies policy changes eventually
// (docs/security.md, "credentials unusable after a revoke").
const PropagationWindow = time.Minute

// AuditReader reads the grant's vend records (when its last session ends).
type AuditReader interface {
	Audit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error)
}

// RoleChecker is a revoker that can check, at start and reload, that it can
// write a Deny on every role (vend.IAMRevoker.CheckRoles).
type RoleChecker interface {
	CheckRoles(ctx context.Context, roleARNs map[string]string) error
}

// Options build the target.
type Options struct {
	// Vendor assumes roles; nil: credentials are refused (no STS).
	Vendor vend.Vendor
	// Revoker writes the inline Deny of an early end; nil: issued
	// credentials stop at the grant's end only.
	Revoker vend.Revoker
	// SessionCap caps every role's session length (role chaining: 1h). 0: none.
	SessionCap time.Duration
	// Audit reads vend records; nil: the Deny lasts the longest session.
	Audit AuditReader
}

// Target is the aws_role target.
type Target struct{ o Options }

var _ target.Issuer = (*Target)(nil)

// New builds the target.
func New(o Options) *Target { return &Target{o: o} }

// Kind implements target.Target.
func (t *Target) Kind() string { return policy.KindAWSRole }

// Revoker is the revoker the target was built with (nil: none).
func (t *Target) Revoker() vend.Revoker { return t.o.Revoker }

// Start implements target.Target: an IAM role's access is credentials on
// demand, so a grant's start creates nothing.
func (t *Target) Start(context.Context, target.Grant, time.Time) (target.Issued, error) {
	return target.Issued{}, nil
}

// Check implements target.Target: with a revoker that can check roles, it
// refuses roles whose account it could not write a Deny in.
func (t *Target) Check(ctx context.Context, roles []*policy.Role) error {
	rc, ok := t.o.Revoker.(RoleChecker)
	if !ok {
		return nil
	}
	arns := map[string]string{}
	for _, r := range roles {
		arns[r.Name] = r.ARN
	}
	if err := rc.CheckRoles(ctx, arns); err != nil {
		return fmt.Errorf("aws.revoke_with_inline_policy: %w", err)
	}
	return nil
}

// workloadSessionTags maps workload claims to the session tags jit adds to
// a workload's credentials, so CloudTrail ties its calls to the CI run:
// GitHub's and GitLab's repository, run (pipeline) id and ref, Kubernetes'
// namespace and service account.
func workloadSessionTags() []struct{ claim, tag string } {
	return []struct{ claim, tag string }{
		{"repository", "jit-repository"}, {"project_path", "jit-repository"},
		{"run_id", "jit-run-id"}, {"pipeline_id", "jit-run-id"},
		{"ref", "jit-ref"},
		{"kubernetes.io/namespace", "jit-namespace"}, {"kubernetes.io/serviceaccount/name", "jit-serviceaccount"},
	}
}

// SessionTags are the session tags of u's credentials (none for a person).
func SessionTags(u api.User) map[string]string {
	if !u.IsWorkload() {
		return nil
	}
	tags := map[string]string{"jit-issuer": u.IssuerName}
	for _, m := range workloadSessionTags() {
		if v := u.Claims[m.claim]; v != "" {
			tags[m.tag] = v
		}
	}
	return tags
}

// maxSession is the longest session STS gives for role.
func (t *Target) maxSession(role *policy.Role) time.Duration {
	d := role.MaxSessionDuration
	if d <= 0 {
		d = vend.DefaultMaxSession
	}
	if t.o.SessionCap > 0 && d > t.o.SessionCap {
		d = t.o.SessionCap
	}
	return d
}

// Credentials implements target.Issuer: AssumeRole with the grant's
// time-bound session policy.
func (t *Target) Credentials(ctx context.Context, g target.Grant, now time.Time) (target.Credentials, error) {
	if t.o.Vendor == nil {
		return target.Credentials{}, &api.Error{Code: api.CodeUnavailable, Message: "this server has no STS configured"}
	}
	req := g.Request
	c, err := t.o.Vendor.Vend(ctx, vend.Input{
		RoleARN: g.Role.ARN, RequestID: req.ID, User: g.By, GrantEndsAt: req.EndsAt,
		MaxSessionDuration: t.maxSession(g.Role), SessionPolicy: g.Role.SessionPolicy, Tags: SessionTags(g.User),
	}, now)
	if err != nil {
		var vendErr *vend.Error
		if !errors.As(err, &vendErr) {
			err = &vend.Error{Err: err, Hint: "check the server's aws settings and logs"}
		}
		return target.Credentials{}, err
	}
	return target.Credentials{ID: c.AccessKeyID, Expires: c.Expiration,
		AWS: &target.AWSKeys{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}}, nil
}

// AccessUntil implements target.Target: without a revoker, issued sessions
// work until the grant's end (their session policy); with one, until the
// Deny propagates. A grant that never vended has nothing to outlive it.
func (t *Target) AccessUntil(g target.Grant, endedAt time.Time) time.Time {
	switch {
	case g.Request.VendCount == 0:
		return endedAt
	case t.o.Revoker == nil:
		return g.Request.EndsAt
	}
	return endedAt.Add(PropagationWindow)
}

// End implements target.Target. At the grant's end there is nothing to do
// (the session policy ends every session then); an early end of a grant
// that vended writes the inline Deny on the role, until the last session's
// end.
func (t *Target) End(ctx context.Context, g target.Grant, early bool, now time.Time) (target.Ended, error) {
	req := g.Request
	if !early || req.VendCount == 0 || t.o.Revoker == nil {
		return target.Ended{AccessUntil: t.AccessUntil(g, now)}, nil
	}
	until := t.lastSessionEnd(ctx, g, now)
	ended := target.Ended{Done: true, AccessUntil: t.AccessUntil(g, now),
		Detail: map[string]string{"role_arn": g.Role.ARN, "until": until.UTC().Format(time.RFC3339)}}
	// The Revoker returns nil only once IAM returned the Deny from the
	// role's own ARN: only then is the revocation enforced.
	err := t.o.Revoker.Revoke(ctx, vend.RevokeInput{
		RoleARN: g.Role.ARN, RequestID: req.ID, User: req.Requester,
		IssuedBefore: now, Until: until,
	})
	if err != nil {
		ended.AccessUntil = req.EndsAt
	}
	return ended, err
}

// lastSessionEnd is when the grant's last STS session can end: the latest
// STS expiry among its audited vends, so the revocation Deny lives no
// longer than needed. Without a readable vend record it falls back to now
// plus the longest session, which covers every vend made so far.
func (t *Target) lastSessionEnd(ctx context.Context, g target.Grant, now time.Time) time.Time {
	fallback := now.Add(t.maxSession(g.Role))
	if t.o.Audit == nil {
		return fallback
	}
	evs, err := t.o.Audit.Audit(ctx, store.AuditFilter{RequestID: g.Request.ID, Type: audit.TypeVended, Limit: 1000})
	if err != nil || len(evs) == 0 || len(evs) >= 1000 {
		return fallback
	}
	var end time.Time
	for _, ev := range evs {
		exp, err := time.Parse(time.RFC3339, ev.Detail["expires"])
		if err != nil {
			return fallback
		}
		if exp.After(end) {
			end = exp // STS's own expiry (its clock is the one IAM uses)
		}
	}
	return end
}
