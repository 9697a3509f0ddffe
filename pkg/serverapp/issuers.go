package serverapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/server"
)

// issuerVerifiers builds one token verifier per trusted issuer (oidc: and
// issuers:) and checks, for every issuers: entry, that its discovery
// document and JWKS answer now: a start or reload with an issuer whose keys
// cannot be found is refused. The oidc: block stays lazy, as before, so the
// server starts while the IdP of people is down.
func issuerVerifiers(ctx context.Context, cfg *config.Config, now func() time.Time) ([]*server.OIDCVerifier, error) {
	client := &http.Client{Timeout: 10 * time.Second}
	var out []*server.OIDCVerifier
	var errs []error
	managerClaim := ""
	if cfg.Managers.Source == config.ManagersFromClaim {
		managerClaim = cfg.Managers.Claim
	}
	for i, iss := range cfg.TrustedIssuers() {
		kind, mc := "", managerClaim
		if iss.Workload() {
			kind, mc = api.KindWorkload, ""
		}
		v := server.NewOIDCVerifier(server.OIDCVerifierConfig{
			Issuer: iss.Issuer, ClientID: iss.Audience, GroupsClaim: iss.GroupsClaim,
			ClockSkew: iss.ClockSkew.D(), HTTPClient: client, Now: now,
			UsernameClaim: iss.UsernameClaim, MaxTokenLifetime: iss.MaxTokenLifetime.D(),
			Name: iss.Name, Kind: kind, ManagerClaim: mc,
		})
		if i > 0 { // issuers[i-1]
			if err := v.Check(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: issuers[%d] (%s): %w; the issuer must publish its discovery document and JWKS", cfg.Path, i-1, iss.Name, err))
			}
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}
