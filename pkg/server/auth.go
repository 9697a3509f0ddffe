package server

import (
	"context"
	"encoding/json"
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
	ClockSkew   time.Duration // tolerated on expiry, not-before and issued-at
	HTTPClient  *http.Client
	Now         func() time.Time

	// UsernameClaim names a claim the IdP guarantees to identify the user
	// (preferred_username, upn); policy users: entries match it. Empty:
	// the email, only when email_verified is JSON true.
	UsernameClaim string
	// MaxTokenLifetime refuses tokens whose exp - iat is longer [24h].
	MaxTokenLifetime time.Duration
	// ManagerClaim names the claim holding the person's manager
	// (managers.claim with managers.source claim), copied to
	// api.User.ManagerClaim when it is a string. Empty: not read.
	ManagerClaim string

	// Name is the config's name for the issuer (issuers[].name, "oidc").
	Name string
	// Kind is api.KindWorkload for a workload issuer (CI, Kubernetes):
	// its tokens give a User with Claims and no email, username or groups.
	// Empty: an IdP of people.
	Kind string
}

// OIDCVerifier verifies the IdP's ID tokens against the issuer's JWKS:
// signature (alg none and unknown keys refused), issuer, audience, expiry and
// not-before; then azp, iat, the token's lifetime and the groups claim's
// shape (docs/security.md, "Identity"). Discovery is lazy, so the server starts while the IdP is down.
type OIDCVerifier struct {
	cfg OIDCVerifierConfig

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// DefaultMaxTokenLifetime is the longest exp - iat accepted when
// oidc.max_token_lifetime is unset.
const DefaultMaxTokenLifetime = 24 * time.Hour

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
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = DefaultMaxTokenLifetime
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

// jwksFetchFailed is how go-oidc's remote key set says it could not fetch
// the JWKS (it wraps the cause with %v, so no error value survives to be
// matched; TestJWKSDownDuringKeyRotationKeepsCachedKeysAndAsksNewOnesToRetry
// fails if the words change).
const jwksFetchFailed = "fetching keys"

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
	if err != nil && strings.Contains(err.Error(), jwksFetchFailed) {
		// A key id the cached JWKS lacks (the IdP rotated its keys) and a
		// JWKS that could not be fetched: the token may be good, so the
		// caller is told to retry, not to log in again, and it is not
		// counted as a failed authentication (which would block an
		// address many people share).
		return api.User{}, fmt.Errorf("%w: %v", errUnavailable, err)
	}
	if err != nil {
		return api.User{}, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return api.User{}, fmt.Errorf("read claims: %w", err)
	}
	if err := v.checkTimesAndParty(claims); err != nil {
		return api.User{}, err
	}
	u := api.User{Issuer: tok.Issuer, Subject: tok.Subject, IssuerName: v.cfg.Name}
	if u.Subject == "" {
		return api.User{}, errors.New("token has no subject")
	}
	if v.cfg.Kind == api.KindWorkload {
		return workloadUser(u, claims), nil
	}
	if s, ok := claims["name"].(string); ok {
		u.Name = s
	}
	u.Email, u.Username, u.UsernameMissing = usernameOf(claims, v.cfg.UsernameClaim)
	if u.Groups, err = groupsOf(claims, v.cfg.GroupsClaim); err != nil {
		return api.User{}, err
	}
	if v.cfg.ManagerClaim != "" {
		// A non-string value (Entra's manager object) is no manager: the
		// request then says the claim is missing rather than guess.
		u.ManagerClaim, _ = claims[v.cfg.ManagerClaim].(string)
	}
	return u, nil
}

// checkTimesAndParty adds what go-oidc leaves out: nbf and iat not in the
// future beyond the skew, a lifetime (exp - iat) no longer than the maximum,
// and azp equal to our client id when present or when aud names several
// audiences (OIDC Core 3.1.3.7): a token another client obtained, with jit
// among its audiences, is not a token for jit.
func (v *OIDCVerifier) checkTimesAndParty(claims map[string]any) error {
	now, skew := v.cfg.Now(), v.cfg.ClockSkew
	if nbf, ok := claims["nbf"].(float64); ok {
		if time.Unix(int64(nbf), 0).After(now.Add(skew)) {
			return errors.New("token is not valid yet (nbf in the future)")
		}
	}
	iatV, ok := claims["iat"].(float64)
	if !ok {
		return errors.New("token has no iat (issued-at) claim")
	}
	iat := time.Unix(int64(iatV), 0)
	if iat.After(now.Add(skew)) {
		return fmt.Errorf("token is issued in the future (iat %s is more than %s ahead of this server's clock)", iat.UTC().Format(time.RFC3339), skew)
	}
	if expV, ok := claims["exp"].(float64); ok {
		if life := time.Unix(int64(expV), 0).Sub(iat); life > v.cfg.MaxTokenLifetime {
			return fmt.Errorf("token lifetime %s (exp - iat) is longer than the %s allowed (oidc.max_token_lifetime)", life, v.cfg.MaxTokenLifetime)
		}
	}
	audiences := 1
	if a, ok := claims["aud"].([]any); ok {
		audiences = len(a)
	}
	azp, hasAzp := claims["azp"]
	switch {
	case hasAzp && azp != v.cfg.ClientID:
		return fmt.Errorf("token was issued to another client (azp %v, not %s)", azp, v.cfg.ClientID)
	case !hasAzp && audiences > 1:
		return fmt.Errorf("token names %d audiences but no azp (authorized party); jit accepts only tokens issued to %s", audiences, v.cfg.ClientID)
	}
	return nil
}

// usernameOf reads the email shown to people and the verified username
// policy users: entries match, or why there is none. The email counts only
// when email_verified is the JSON value true: the string "true", a missing
// claim (Entra ID never sends one) or anything else leaves it unverified.
// With usernameClaim set, that claim (a string the IdP guarantees) is the
// username.
func usernameOf(claims map[string]any, usernameClaim string) (email, username, missing string) {
	rawEmail, _ := claims["email"].(string)
	verified, isBool := claims["email_verified"].(bool)
	if rawEmail != "" && isBool && verified {
		email = rawEmail
	}
	if usernameClaim != "" {
		if s, ok := claims[usernameClaim].(string); ok && strings.TrimSpace(s) != "" {
			return email, s, ""
		}
		return email, "", fmt.Sprintf("the token has no %q claim (oidc.username_claim); log in again requesting the %q scope, or ask the IdP admin to release the claim", usernameClaim, scopeFor(usernameClaim))
	}
	switch ev, present := claims["email_verified"]; {
	case rawEmail == "":
		return "", "", `the token has no "email" claim; log in again requesting the "email" scope (jit login asks for it unless oidc.scopes leaves it out)`
	case email != "":
		return email, email, ""
	case !present:
		return "", "", `the token's email is not vouched for: it has no "email_verified" claim (Entra ID never sends one); the operator sets oidc.username_claim (for example upn or preferred_username) to a claim the IdP guarantees`
	case !isBool:
		return "", "", fmt.Sprintf(`the token's "email_verified" claim is %s, not the JSON value true; jit does not trust that email`, jsonText(ev))
	default:
		return "", "", `the token's email is not verified (email_verified is false); verify it at the IdP, then log in again`
	}
}

// scopeFor names the standard scope that releases claim: "email" for the
// email claims, else "profile" (preferred_username, upn, name, …).
func scopeFor(claim string) string {
	if claim == "email" || claim == "email_verified" {
		return "email"
	}
	return "profile"
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// errGroupsClaim is wrapped by every refusal of a malformed groups claim.
var errGroupsClaim = errors.New("malformed groups claim")

// groupsOf reads the groups claim: an array of strings, or a single string
// that is one group (never split: "Former admins" is not "admins"). A
// missing or null claim is no groups; anything else is refused.
func groupsOf(claims map[string]any, name string) ([]string, error) {
	switch g := claims[name].(type) {
	case nil:
		return nil, nil
	case string:
		return []string{g}, nil
	case []any:
		out := make([]string, 0, len(g))
		for i, x := range g {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %q[%d] is %s, not a string; fix the IdP's %s claim mapping", errGroupsClaim, name, i, jsonText(x), name)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%w: %q is %s, not an array of strings; fix the IdP's %s claim mapping", errGroupsClaim, name, jsonText(g), name)
	}
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
