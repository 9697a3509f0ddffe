package config

import (
	"fmt"
	"regexp"
	"time"

	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/yamldoc"
)

// Issuer kinds: an IdP of people, or an issuer of workload tokens (CI,
// Kubernetes service accounts).
const (
	KindHuman    = "human"
	KindWorkload = "workload"
)

// OIDCIssuerName is the name of the oidc: block's issuer among the trusted
// issuers.
const OIDCIssuerName = "oidc"

// Issuer is one more issuer the server trusts besides oidc: (issuers:). A
// principal is (issuer, subject): the same sub from two issuers is two
// principals (docs/concepts.md, "Principals and issuers").
type Issuer struct {
	// Name is how policy workloads: entries refer to it ([a-z0-9-], unique).
	Name string `yaml:"name" json:"name"`
	// Kind is human (an IdP of people) or workload [workload].
	Kind string `yaml:"kind" json:"kind"`
	// Issuer is the iss URL; its discovery document and JWKS must answer at
	// start and reload.
	Issuer string `yaml:"issuer" json:"issuer"`
	// Audience is the aud tokens must carry for this server, unique among
	// all issuers (oidc.client_id included). GitHub: the audience the job
	// asks for (core.getIDToken(aud)); GitLab: id_tokens: aud:.
	Audience string `yaml:"audience" json:"audience"`
	// Flavor says what a workload token's claims mean: github, gitlab,
	// kubernetes or generic [generic]; it picks identifying_claims.
	Flavor string `yaml:"flavor" json:"flavor,omitempty"`
	// IdentifyingClaims are the claims that name who controls a workload,
	// which a job cannot choose; every workload subject pins one
	// [the flavor's; generic: sub].
	IdentifyingClaims []string `yaml:"identifying_claims" json:"identifying_claims,omitempty"`
	// UsernameClaim and GroupsClaim map a human issuer's claims, as in
	// oidc: [verified email; groups].
	UsernameClaim string `yaml:"username_claim" json:"username_claim,omitempty"`
	GroupsClaim   string `yaml:"groups_claim" json:"groups_claim,omitempty"`
	// ClockSkew tolerated on token times [30s].
	ClockSkew yamldoc.Duration `yaml:"clock_skew" json:"clock_skew"`
	// MaxTokenLifetime refuses tokens whose exp - iat is longer [24h; workload 1h].
	MaxTokenLifetime yamldoc.Duration `yaml:"max_token_lifetime" json:"max_token_lifetime"`
}

// Workload reports whether the issuer issues workload tokens.
func (i Issuer) Workload() bool { return i.Kind == KindWorkload }

// DefaultWorkloadTokenLifetime is max_token_lifetime's default for workload
// issuers: CI tokens live minutes (GitHub's about 5), so an hour is ample.
const DefaultWorkloadTokenLifetime = time.Hour

var issuerName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// TrustedIssuers is every issuer the server accepts tokens from: the oidc:
// block first (named "oidc", kind human), then issuers:.
func (c *Config) TrustedIssuers() []Issuer {
	out := []Issuer{{Name: OIDCIssuerName, Kind: KindHuman, Issuer: c.OIDC.Issuer, Audience: c.OIDC.ClientID,
		UsernameClaim: c.OIDC.UsernameClaim, GroupsClaim: c.OIDC.GroupsClaim, ClockSkew: c.OIDC.ClockSkew,
		MaxTokenLifetime: c.OIDC.MaxTokenLifetime}}
	return append(out, c.Issuers...)
}

// PolicyIssuers is what the policy needs to know of the trusted issuers.
func (c *Config) PolicyIssuers() []policy.Issuer {
	var out []policy.Issuer
	for _, i := range c.TrustedIssuers() {
		out = append(out, policy.Issuer{Name: i.Name, Workload: i.Workload(), Flavor: i.Flavor, Identifying: i.IdentifyingClaims})
	}
	return out
}

// validateIssuers checks issuers: and fills in their defaults: unique names
// and issuer URLs, and audiences unique across every issuer (oidc: too), so
// that no token minted for one trust is accepted under another.
func (c *Config) validateIssuers(v *validator) {
	names := map[string]string{OIDCIssuerName: "oidc"}
	urls := map[string]string{c.OIDC.Issuer: "oidc.issuer"}
	auds := map[string]string{c.OIDC.ClientID: "oidc.client_id"}
	for i := range c.Issuers {
		at := func(key string) string { return fmt.Sprintf("issuers[%d].%s", i, key) }
		iss := &c.Issuers[i]
		switch prev, dup := names[iss.Name]; {
		case !issuerName.MatchString(iss.Name):
			v.errorf(at("name"), "%q is not an issuer name (lowercase letters, digits and -, at most 32)", iss.Name)
		case dup:
			v.errorf(at("name"), "%q is already the name of %s; names are unique", iss.Name, prev)
		default:
			names[iss.Name] = fmt.Sprintf("issuers[%d]", i)
		}
		if iss.Issuer == "" {
			v.errorf(at("issuer"), "the issuer URL is required (https://token.actions.githubusercontent.com)")
		} else if prev, dup := urls[iss.Issuer]; dup {
			v.errorf(at("issuer"), "%s is also %s; trust each issuer once", iss.Issuer, prev)
		} else {
			v.httpURL(at("issuer"), iss.Issuer, false)
			urls[iss.Issuer] = at("issuer")
		}
		if iss.Audience == "" {
			v.errorf(at("audience"), "the audience tokens must carry for this server is required (for example https://jit.example.com)")
		} else if prev, dup := auds[iss.Audience]; dup {
			v.errorf(at("audience"), "%q is also the audience of %s; give every issuer its own audience, so a token meant for one is never taken for another", iss.Audience, prev)
		} else {
			auds[iss.Audience] = at("audience")
		}
		c.validateIssuerKind(v, at, iss)
		if iss.ClockSkew == 0 {
			iss.ClockSkew = yamldoc.Duration(DefaultClockSkew)
		} else if iss.ClockSkew.D() > 5*time.Minute {
			v.errorf(at("clock_skew"), "%s is over 5m; fix the clocks instead", iss.ClockSkew.D())
		}
	}
}

// validateIssuerKind checks the kind-specific settings of iss.
func (c *Config) validateIssuerKind(v *validator, at func(string) string, iss *Issuer) {
	if iss.Kind == "" {
		iss.Kind = KindWorkload
	}
	switch iss.Kind {
	case KindHuman:
		if iss.Flavor != "" || len(iss.IdentifyingClaims) > 0 {
			v.errorf(at("flavor"), "flavor and identifying_claims are for workload issuers; this one is kind human")
		}
		if iss.GroupsClaim == "" {
			iss.GroupsClaim = DefaultGroupsClaim
		}
		checkUsernameClaim(v, at("username_claim"), iss.UsernameClaim)
		if iss.MaxTokenLifetime == 0 {
			iss.MaxTokenLifetime = yamldoc.Duration(DefaultMaxTokenLifetime)
		}
	case KindWorkload:
		if iss.UsernameClaim != "" || iss.GroupsClaim != "" {
			v.errorf(at("username_claim"), "a workload has no username or groups (policy matches its claims under workloads:); remove username_claim and groups_claim")
		}
		switch iss.Flavor {
		case "":
			iss.Flavor = policy.FlavorGeneric
		case policy.FlavorGitHub, policy.FlavorGitLab, policy.FlavorKubernetes, policy.FlavorGeneric:
		default:
			v.errorf(at("flavor"), "%q is not a flavor; use github, gitlab, kubernetes or generic", iss.Flavor)
		}
		if len(iss.IdentifyingClaims) == 0 {
			iss.IdentifyingClaims = policy.FlavorIdentifying(iss.Flavor)
		}
		if len(iss.IdentifyingClaims) == 0 {
			iss.IdentifyingClaims = []string{"sub"}
		}
		if iss.MaxTokenLifetime == 0 {
			iss.MaxTokenLifetime = yamldoc.Duration(DefaultWorkloadTokenLifetime)
		}
	default:
		v.errorf(at("kind"), "%q is not an issuer kind; use human (an IdP of people) or workload (CI, Kubernetes)", iss.Kind)
	}
	if d := iss.MaxTokenLifetime.D(); d < 5*time.Minute || d > 7*24*time.Hour {
		v.errorf(at("max_token_lifetime"), "%s is outside 5m to 168h", d)
	}
}
