// Package awscheck reports, from the jit server's own AWS credentials,
// which of the policy's roles the server can assume (a real sts:AssumeRole
// with jit's request tag and SourceIdentity, scoped down to nothing) and,
// with aws.revoke_with_inline_policy, on which it can reach the
// jit-revocations policy — what `jit server check-aws` prints.
package awscheck

import (
	"context"
	"time"

	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/vend"
)

// Probe identifies the check's sessions in CloudTrail: SourceIdentity and
// RoleSessionName "jit-check", request tag "req_jitcheck" (it matches the
// trust policy's req_* condition like a real grant's).
const (
	ProbeUser      = "jit-check"
	ProbeRequestID = "req_jitcheck"
)

// probePolicy scopes the probe session down to sts:GetCallerIdentity (which
// no policy can deny anyway): the credentials are dropped unused.
const probePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}`

// Revoker is the revocation side of the check (vend.IAMRevoker).
type Revoker interface {
	CanRevoke(ctx context.Context, roleARN string) error
}

var _ Revoker = (*vend.IAMRevoker)(nil)

// Result is one role's answer.
type Result struct {
	Role string
	ARN  string
	// Assume is nil when sts:AssumeRole worked as a vend does it.
	Assume error
	// Revoke is nil when the jit-revocations policy was reachable;
	// RevokeChecked is false without revocation at AWS.
	Revoke        error
	RevokeChecked bool
}

// OK reports whether everything checked worked.
func (r Result) OK() bool { return r.Assume == nil && r.Revoke == nil }

// Run checks every role, in policy order. revoker is nil when the server
// does not revoke at AWS.
func Run(ctx context.Context, roles []*policy.Role, vendor vend.Vendor, revoker Revoker, now time.Time) []Result {
	out := make([]Result, 0, len(roles))
	for _, role := range roles {
		res := Result{Role: role.Name, ARN: role.ARN}
		_, res.Assume = vendor.Vend(ctx, vend.Input{
			RoleARN: role.ARN, RequestID: ProbeRequestID, User: ProbeUser,
			GrantEndsAt: now.Add(vend.MinSessionDuration), MaxSessionDuration: role.MaxSessionDuration,
			SessionPolicy: probePolicy,
		}, now)
		if revoker != nil {
			res.RevokeChecked = true
			res.Revoke = revoker.CanRevoke(ctx, role.ARN)
		}
		out = append(out, res)
	}
	return out
}
