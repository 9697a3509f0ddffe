package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jit-access/jit/pkg/api"
)

// TokenVerifier turns a bearer token into a verified identity.
type TokenVerifier interface {
	Verify(ctx context.Context, rawToken string) (api.User, error)
}

// OIDCVerifierConfig configures the IdP token verifier.
type OIDCVerifierConfig struct {
	Issuer      string
	ClientID    string
	GroupsClaim string        // [groups]
	ClockSkew   time.Duration // tolerated on expiry and not-before
	HTTPClient  *http.Client
	Now         func() time.Time
}

// OIDCVerifier verifies the IdP's ID tokens against the issuer's JWKS:
// signature (alg none and unknown keys refused), issuer, audience, expiry and
// not-before. Discovery is lazy, so the server starts while the IdP is down.
type OIDCVerifier struct {
	cfg OIDCVerifierConfig

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewOIDCVerifier returns a verifier; it contacts the issuer on first use.
func NewOIDCVerifier(cfg OIDCVerifierConfig) *OIDCVerifier {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OIDCVerifier{cfg: cfg}
}

func (v *OIDCVerifier) idTokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	ctx = oidc.ClientContext(ctx, v.cfg.HTTPClient)
	provider, err := oidc.NewProvider(ctx, v.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover issuer %s: %w", v.cfg.Issuer, err)
	}
	skew := v.cfg.ClockSkew
	now := v.cfg.Now
	v.verifier = provider.VerifierContext(oidc.ClientContext(context.Background(), v.cfg.HTTPClient), &oidc.Config{
		ClientID:             v.cfg.ClientID,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.EdDSA},
		// go-oidc compares expiry with Now(); shifting Now back by the skew
		// accepts a token up to skew past its expiry.
		Now: func() time.Time { return now().Add(-skew) },
	})
	return v.verifier, nil
}

// errUnavailable marks a verification that failed because the IdP could not
// be reached, not because the token is bad.
var errUnavailable = errors.New("identity provider unavailable")

// Verify implements TokenVerifier.
func (v *OIDCVerifier) Verify(ctx context.Context, raw string) (api.User, error) {
	verifier, err := v.idTokenVerifier(ctx)
	if err != nil {
		return api.User{}, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return api.User{}, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return api.User{}, fmt.Errorf("read claims: %w", err)
	}
	if nbf, ok := claims["nbf"].(float64); ok {
		if time.Unix(int64(nbf), 0).After(v.cfg.Now().Add(v.cfg.ClockSkew)) {
			return api.User{}, errors.New("token is not valid yet (nbf in the future)")
		}
	}
	u := api.User{Subject: tok.Subject}
	if s, ok := claims["email"].(string); ok {
		if verified, present := claims["email_verified"].(bool); !present || verified {
			u.Email = s
		}
	}
	if s, ok := claims["name"].(string); ok {
		u.Name = s
	}
	switch g := claims[v.cfg.GroupsClaim].(type) {
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				u.Groups = append(u.Groups, s)
			}
		}
	case string:
		u.Groups = strings.Fields(strings.ReplaceAll(g, ",", " "))
	}
	if u.Subject == "" {
		return api.User{}, errors.New("token has no subject")
	}
	return u, nil
}

// bearer extracts the token from an Authorization header.
func bearer(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", errors.New("no Authorization header")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", errors.New("the Authorization header must be 'Bearer <ID token>'")
	}
	tok = strings.TrimSpace(tok)
	if strings.Count(tok, ".") != 2 {
		return "", errors.New("the bearer token is not a JWT")
	}
	return tok, nil
}
