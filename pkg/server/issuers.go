package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jit-access/jit/pkg/api"
)

// Issuers is the TokenVerifier of a server that trusts several issuers
// (docs/concepts.md, "Principals and issuers"): it reads the token's iss
// without trusting it, hands the token to that issuer's verifier (which
// checks signature, iss and its own audience again) and refuses a token of
// any other issuer. It is safe for concurrent use; Swap replaces the set on
// a reload.
type Issuers struct {
	mu    sync.RWMutex
	byURL map[string]*OIDCVerifier
}

// NewIssuers returns a verifier over vs; two verifiers for one issuer URL
// are refused.
func NewIssuers(vs ...*OIDCVerifier) (*Issuers, error) {
	is := &Issuers{}
	if err := is.Swap(vs...); err != nil {
		return nil, err
	}
	return is, nil
}

// Swap replaces the trusted issuers.
func (is *Issuers) Swap(vs ...*OIDCVerifier) error {
	byURL := make(map[string]*OIDCVerifier, len(vs))
	for _, v := range vs {
		if _, dup := byURL[v.cfg.Issuer]; dup {
			return fmt.Errorf("issuer %s is configured twice", v.cfg.Issuer)
		}
		byURL[v.cfg.Issuer] = v
	}
	is.mu.Lock()
	is.byURL = byURL
	is.mu.Unlock()
	return nil
}

// Verify implements TokenVerifier.
func (is *Issuers) Verify(ctx context.Context, raw string) (api.User, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return api.User{}, err
	}
	is.mu.RLock()
	v := is.byURL[iss]
	trusted := make([]string, 0, len(is.byURL))
	for u := range is.byURL {
		trusted = append(trusted, u)
	}
	is.mu.RUnlock()
	if v == nil {
		slices.Sort(trusted)
		return api.User{}, fmt.Errorf("the token's issuer %q is not one this server trusts (%s)", iss, strings.Join(trusted, ", "))
	}
	return v.Verify(ctx, raw)
}

// unverifiedIssuer reads a JWT's iss claim without checking anything: it
// only picks the verifier, which checks iss again with the signature.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("the bearer token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("the token's payload is not base64url: %w", err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("the token's payload is not JSON: %w", err)
	}
	if claims.Iss == "" {
		return "", errors.New("the token has no iss (issuer) claim")
	}
	return claims.Iss, nil
}

// Check makes sure the issuer can be used now: its discovery document
// names it and a jwks_uri, and that JWKS holds at least one key. The
// server's start and reload call it for every issuers: entry, so a typo in
// an issuer URL fails the start instead of every login.
func (v *OIDCVerifier) Check(ctx context.Context) error {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	wellKnown := strings.TrimSuffix(v.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	if err := v.getJSON(ctx, wellKnown, &disc); err != nil {
		return fmt.Errorf("discover issuer %s: %w", v.cfg.Issuer, err)
	}
	if disc.Issuer != v.cfg.Issuer {
		return fmt.Errorf("discover issuer %s: the discovery document names issuer %q", v.cfg.Issuer, disc.Issuer)
	}
	if disc.JWKSURI == "" {
		return fmt.Errorf("discover issuer %s: the discovery document has no jwks_uri", v.cfg.Issuer)
	}
	var jwks struct {
		Keys []struct {
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if err := v.getJSON(ctx, disc.JWKSURI, &jwks); err != nil {
		return fmt.Errorf("issuer %s: read its JWKS: %w", v.cfg.Issuer, err)
	}
	if !slices.ContainsFunc(jwks.Keys, func(k struct {
		Kty string `json:"kty"`
	}) bool {
		return k.Kty != ""
	}) {
		return fmt.Errorf("issuer %s: its JWKS at %s holds no keys", v.cfg.Issuer, disc.JWKSURI)
	}
	return nil
}

func (v *OIDCVerifier) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("GET %s: not JSON: %w", url, err)
	}
	return nil
}

// maxClaims bounds how many flattened claims a workload token carries into
// the User; maxClaimValue bounds each value.
const (
	maxClaims     = 100
	maxClaimValue = 1024
)

// workloadUser is u (issuer and subject set) as a workload: its claims as
// strings, nested objects flattened with "/" (Kubernetes'
// kubernetes.io/namespace), and no email, username or groups, whatever the
// token says, so a workload never matches a person's policy entry.
func workloadUser(u api.User, claims map[string]any) api.User {
	u.Kind = api.KindWorkload
	u.Claims = map[string]string{}
	flattenClaims(u.Claims, "", claims, 0)
	u.Name = u.Subject
	return u
}

func flattenClaims(out map[string]string, prefix string, claims map[string]any, depth int) {
	for k, val := range claims {
		if len(out) >= maxClaims {
			return
		}
		key := prefix + k
		switch x := val.(type) {
		case string:
			if len(x) <= maxClaimValue {
				out[key] = x
			}
		case float64:
			out[key] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			out[key] = strconv.FormatBool(x)
		case map[string]any:
			if depth < 3 {
				flattenClaims(out, key+"/", x, depth+1)
			}
		}
	}
}
