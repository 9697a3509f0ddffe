package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"time"

	"github.com/jit-access/jit/pkg/yamldoc"
)

// This file checks a parsed config and fills in its defaults, one method per
// section of the file; every problem names its key path and file:line:column.

var (
	revokerAccount = regexp.MustCompile(`^[0-9]{12}$`)
	revokerARN     = regexp.MustCompile(`^arn:aws(?:-[a-z]+)*:iam::([0-9]{12}):role/(?:[\x21-\x7e]+/)?[\w+=,.@-]{1,64}$`)
)

type validator struct {
	doc  *yamldoc.Doc
	errs []error
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.doc.Broken(path) {
		return // already reported by Decode
	}
	v.errs = append(v.errs, v.doc.Errorf(path, format, args...))
}

// httpURL checks an http(s) URL; plain http only on loopback unless
// allowHTTP.
func (v *validator) httpURL(path, s string, allowHTTP bool) {
	// Errors name the scheme and host only: a webhook URL often is itself
	// the secret (Slack's, Teams').
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		shown := "the value"
		if err == nil && u.Scheme != "" {
			shown = u.Scheme + "://" + u.Host + "/…"
		}
		v.errorf(path, "%s is not an http(s) URL (https://host/...)", shown)
		return
	}
	if u.Scheme == "http" && !allowHTTP && !isLoopback(u.Hostname()) {
		v.errorf(path, "http://%s/… uses plain http; use https (http is allowed only on localhost)", u.Host)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validate checks c section by section, filling in defaults; every
// problem goes to v with its key path.
func (c *Config) validate(v *validator) {
	c.validateListen(v)
	c.validateWeb(v)
	c.validateOIDC(v)
	c.validateIssuers(v)
	c.validateStore(v)
	c.validateAWS(v)
	c.validateLimits(v)
	c.validateNotify(v)
	c.validateActivity(v)
	c.validateLDAP(v)
	c.validateManagers(v)
}

// validateListen checks where the server listens: listen, public_url and tls.
func (c *Config) validateListen(v *validator) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		v.errorf("listen", "%q is not host:port (127.0.0.1:8080, :8443)", c.Listen)
	}
	if c.PublicURL != "" {
		v.httpURL("public_url", c.PublicURL, false)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		v.errorf("tls", "set both cert_file and key_file, or neither")
	}
}

// validateWeb checks the approver page's settings (web).
func (c *Config) validateWeb(v *validator) {
	if c.Web.MaxLoginAge == 0 {
		c.Web.MaxLoginAge = yamldoc.Duration(DefaultMaxLoginAge)
	} else if d := c.Web.MaxLoginAge.D(); d < time.Minute || d > 12*time.Hour {
		v.errorf("web.max_login_age", "%s is outside 1m to 12h", d)
	}
	if c.Web.SessionKey != "" && c.Web.SessionKeyBytes() == nil {
		v.errorf("web.session_key", "must be 64 hex characters (32 bytes; openssl rand -hex 32)")
	}
	for _, kv := range [][2]string{{"web.federation_url", c.Web.FederationURL}, {"web.console_destination", c.Web.ConsoleDestination}} {
		key, raw := kv[0], kv[1]
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || u.Host == "" || u.Scheme != "https" {
			v.errorf(key, "%q must be an https URL, such as https://signin.aws.amazon.com/federation", raw)
		}
	}
}

// validateOIDC checks the IdP settings (oidc) and fills in their defaults.
func (c *Config) validateOIDC(v *validator) {
	if c.OIDC.Issuer == "" {
		v.errorf("oidc.issuer", "the IdP's issuer URL is required (https://idp.example.com)")
	} else {
		v.httpURL("oidc.issuer", c.OIDC.Issuer, false)
	}
	if c.OIDC.ClientID == "" {
		v.errorf("oidc.client_id", "the CLI's OIDC client id is required")
	}
	if c.OIDC.GroupsClaim == "" {
		c.OIDC.GroupsClaim = DefaultGroupsClaim
	}
	if c.OIDC.Scopes == nil {
		c.OIDC.Scopes = DefaultScopes()
	} else if !slices.Contains(c.OIDC.Scopes, "openid") {
		v.errorf("oidc.scopes", "must include openid")
	}
	if c.OIDC.ClockSkew == 0 {
		c.OIDC.ClockSkew = yamldoc.Duration(DefaultClockSkew)
	} else if c.OIDC.ClockSkew.D() > 5*time.Minute {
		v.errorf("oidc.clock_skew", "%s is over 5m; fix the clocks instead", c.OIDC.ClockSkew.D())
	}
	checkUsernameClaim(v, "oidc.username_claim", c.OIDC.UsernameClaim)
	if c.OIDC.MaxTokenLifetime == 0 {
		c.OIDC.MaxTokenLifetime = yamldoc.Duration(DefaultMaxTokenLifetime)
	} else if d := c.OIDC.MaxTokenLifetime.D(); d < 5*time.Minute || d > 7*24*time.Hour {
		v.errorf("oidc.max_token_lifetime", "%s is outside 5m to 168h", d)
	}
}

// validateStore checks the store's address (store).
func (c *Config) validateStore(v *validator) {
	switch c.Store.DSN.Driver() {
	case "sqlite":
		if c.Store.DSN.SQLitePath() == "" {
			v.errorf("store.dsn", "%q names no file (sqlite:///var/lib/jit/jit.db)", c.Store.DSN.String())
		}
	case "postgres":
		if _, err := url.Parse(string(c.Store.DSN)); err != nil {
			v.errorf("store.dsn", "%s is not a postgres URL (postgres://user:pass@host/db)", c.Store.DSN)
		}
	default:
		if c.Store.DSN == "" && c.Store.DSNFile == "" {
			v.errorf("store.dsn", "store.dsn is required (sqlite:///var/lib/jit/jit.db or postgres://user:pass@host/db)")
		} else if c.Store.DSN != "" {
			v.errorf("store.dsn", "%s is not a sqlite:// or postgres:// address", c.Store.DSN)
		}
	}
}

// validateAWS checks the AWS settings: STS endpoints, revokers and static keys (aws).
func (c *Config) validateAWS(v *validator) {
	if c.AWS.STSEndpoint != "" {
		v.httpURL("aws.sts_endpoint", c.AWS.STSEndpoint, true)
	}
	if c.AWS.RevokerSTSEndpoint != "" {
		v.httpURL("aws.revoker_sts_endpoint", c.AWS.RevokerSTSEndpoint, true)
	}
	for account, r := range c.AWS.Revokers {
		at := fmt.Sprintf("aws.revokers.%s", account)
		m := revokerARN.FindStringSubmatch(r.RoleARN)
		switch {
		case !revokerAccount.MatchString(account):
			v.errorf(at, "%q is not a 12-digit AWS account id (quote it: \"111122223333\")", account)
		case m == nil:
			v.errorf(at+".role_arn", "%q is not an IAM role ARN (arn:aws:iam::%s:role/jit-revoker)", r.RoleARN, account)
		case m[1] != account:
			// Writing a Deny with another account's role would put it on
			// a same-named role there, not on the role that was revoked.
			v.errorf(at+".role_arn", "role %s is in account %s, not %s", r.RoleARN, m[1], account)
		}
	}
	if (c.AWS.AccessKeyID == "" && c.AWS.AccessKeyIDFile == "") != (c.AWS.SecretAccessKey == "" && c.AWS.SecretAccessKeyFile == "") {
		v.errorf("aws", "set both access_key_id and secret_access_key, or neither (then the default AWS credential chain is used)")
	}
}

// validateLimits checks rate_limit and sweep_interval and fills in their defaults.
func (c *Config) validateLimits(v *validator) {
	if c.RateLimit.FailedAuthPerMinute < 0 {
		v.errorf("rate_limit.failed_auth_per_minute", "%d is negative", c.RateLimit.FailedAuthPerMinute)
	}
	if c.RateLimit.FailedAuthBurst < 0 {
		v.errorf("rate_limit.failed_auth_burst", "%d is negative", c.RateLimit.FailedAuthBurst)
	}
	if c.RateLimit.RequestsPerMinute == 0 {
		c.RateLimit.RequestsPerMinute = DefaultRequestsPerMinute
	} else if c.RateLimit.RequestsPerMinute < 0 {
		v.errorf("rate_limit.requests_per_minute", "%d is negative", c.RateLimit.RequestsPerMinute)
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = DefaultBurst
	} else if c.RateLimit.Burst < 0 {
		v.errorf("rate_limit.burst", "%d is negative", c.RateLimit.Burst)
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = yamldoc.Duration(DefaultSweepInterval)
	} else if d := c.SweepInterval.D(); d < 100*time.Millisecond || d > time.Minute {
		v.errorf("sweep_interval", "%s is outside 100ms to 1m", d)
	}
}

// validateNotify checks webhooks, Slack and reminders (notify).
func (c *Config) validateNotify(v *validator) {
	for i, w := range c.Notify.Webhooks {
		if w.URL == "" {
			v.errorf(fmt.Sprintf("notify.webhooks[%d].url", i), "url is required")
		} else {
			v.httpURL(fmt.Sprintf("notify.webhooks[%d].url", i), w.URL, false)
		}
		if w.Format != "" && w.Format != "jit" && w.Format != "ocsf" {
			v.errorf(fmt.Sprintf("notify.webhooks[%d].format", i), "%q: want jit (the default) or ocsf", w.Format)
		}
	}
	if c.Notify.Slack.configured() && c.Notify.Slack.BotToken == "" && c.Notify.Slack.BotTokenFile == "" {
		v.errorf("notify.slack.bot_token", "bot_token is required to post to Slack")
	}
	for i, w := range c.Notify.Webhooks {
		if w.URL != "" && w.Secret == "" && w.SecretFile == "" {
			v.errorf(fmt.Sprintf("notify.webhooks[%d].secret", i), "secret is required to sign deliveries (openssl rand -hex 32)")
		}
	}
	if c.Notify.Slack.ApproveInSlackByEmail && c.Notify.Slack.SigningSecret == "" && c.Notify.Slack.SigningSecretFile == "" {
		v.errorf("notify.slack.approve_in_slack_by_email", "needs signing_secret to verify button presses")
	}
	if (c.Notify.Slack.SigningSecret != "" || c.Notify.Slack.SigningSecretFile != "") && c.Notify.Slack.TeamID == "" {
		v.errorf("notify.slack.team_id", "team_id is required with signing_secret: the workspace (T…) whose button presses count (Slack: workspace settings, or team.id of any payload)")
	} else if id := c.Notify.Slack.TeamID; id != "" && !slackTeamID.MatchString(id) {
		v.errorf("notify.slack.team_id", "%q is not a Slack team id (like T0123ABCD)", id)
	}
	// link_max_age's default is applied where it is used: setting it here
	// would make an unset notify.slack look configured.
	if d := c.Notify.Slack.LinkMaxAge.D(); d != 0 && (d < time.Hour || d > 8760*time.Hour) {
		v.errorf("notify.slack.link_max_age", "%s is outside 1h to 8760h (a year)", d)
	}
	if c.Notify.RemindBefore == 0 {
		c.Notify.RemindBefore = yamldoc.Duration(DefaultRemindBefore)
	} else if d := c.Notify.RemindBefore.D(); d < time.Minute || d > 24*time.Hour {
		v.errorf("notify.remind_before", "%s is outside 1m to 24h", d)
	}
}

// validateActivity checks the activity settings (activity).
func (c *Config) validateActivity(v *validator) {
	if c.Activity.Window == 0 {
		c.Activity.Window = yamldoc.Duration(DefaultActivityWindow)
	} else if d := c.Activity.Window.D(); d < time.Minute || d > 24*time.Hour {
		v.errorf("activity.window", "%s is outside 1m to 24h", d)
	}
	if s := c.Activity.Secret; s != "" && len(s) < 16 {
		v.errorf("activity.secret", "is too short to resist guessing; use at least 16 characters (openssl rand -hex 32)")
	}
}

// checkUsernameClaim refuses a username claim that does not name a user
// (email, sub) or that the user edits (the OIDC profile claims).
func checkUsernameClaim(v *validator, path, claim string) {
	switch claim {
	case "email", "email_verified", "sub",
		// OIDC profile claims the user edits and the IdP does not keep unique.
		"name", "given_name", "family_name", "middle_name", "nickname", "profile", "website", "picture":
		v.errorf(path, "%q is not a claim the IdP guarantees to name a user; name one such as upn (Entra ID) or preferred_username (Keycloak, Okta), or leave it unset to match verified emails", claim)
	}
}
