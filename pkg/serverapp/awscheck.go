package serverapp

import (
	"context"
	"time"

	"github.com/jit-access/jit/pkg/awscheck"
	"github.com/jit-access/jit/pkg/config"
)

// CheckAWS runs awscheck with the STS vendor and IAM revoker the server
// would build from cfg, on the server's own credentials: which roles it
// can assume, and (with aws.revoke_with_inline_policy) revoke on.
func CheckAWS(ctx context.Context, cfg *config.Config, now func() time.Time) ([]awscheck.Result, error) {
	lv := &live{start: cfg, now: now}
	creds := lv.awsProvider(cfg)
	vendor, err := newVendor(cfg, creds)
	if err != nil {
		return nil, err
	}
	var revoker awscheck.Revoker
	if cfg.AWS.RevokeWithInlinePolicy {
		r, err := newIAMRevoker(cfg, creds, now, nil)
		if err != nil {
			return nil, err
		}
		revoker = r
	}
	return awscheck.Run(ctx, cfg.Policy.Roles, vendor, revoker, now()), nil
}
