// Package config loads and validates the jit server's config file (YAML,
// strict: unknown keys and bad values are errors naming file:line:column).
// The policy part (admins: and roles:) is inline or in policy_file and is
// validated by pkg/policy.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/yamldoc"
)

// Defaults.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultGroupsClaim       = "groups"
	DefaultClockSkew         = 30 * time.Second
	DefaultMaxTokenLifetime  = 24 * time.Hour
	DefaultRequestsPerMinute = 30
	DefaultBurst             = 10
	DefaultSweepInterval     = 5 * time.Second
	// DefaultMaxLoginAge is how recent an approver's IdP sign-in must be
	// on the approval web page.
	DefaultMaxLoginAge = 15 * time.Minute
	// RoleChainingCap is AWS's session limit when the server itself runs
	// on role credentials.
	RoleChainingCap = time.Hour
)

// DefaultScopes is what the CLI asks the IdP for when oidc.scopes is unset.
func DefaultScopes() []string { return []string{"openid", "email", "profile", "offline_access"} }

// Config is the server's validated configuration. Defaults are in brackets.
type Config struct {
	// Listen is host:port to serve on [127.0.0.1:8080].
	Listen string `yaml:"listen" json:"listen"`
	// PublicURL is what clients use to reach the server (optional). When
	// set, the approver web page is served at PUBLIC_URL/approve/ and the
	// IdP must allow PUBLIC_URL/approve/callback as a redirect URI of
	// oidc.client_id (authorization code grant with PKCE).
	PublicURL string `yaml:"public_url" json:"public_url,omitempty"`
	// Web configures the approver web page.
	Web Web `yaml:"web" json:"web"`
	// TLS serves HTTPS when set (both files).
	TLS TLS `yaml:"tls" json:"tls"`
	// OIDC is the identity provider users log in with (required).
	OIDC OIDC `yaml:"oidc" json:"oidc"`
	// Issuers are more issuers the server trusts: workload issuers (GitHub
	// Actions, GitLab CI, Kubernetes) and further IdPs of people (optional).
	Issuers []Issuer `yaml:"issuers" json:"issuers,omitempty"`
	// Store is where requests and the audit log live (required).
	Store Store `yaml:"store" json:"store"`
	// AWS is how the server calls STS.
	AWS AWS `yaml:"aws" json:"aws"`
	// Audit mirrors the audit log elsewhere (optional).
	Audit Audit `yaml:"audit" json:"audit"`
	// RateLimit bounds each user's API calls.
	RateLimit RateLimit `yaml:"rate_limit" json:"rate_limit"`
	// SweepInterval is how often pending timeouts and grant ends are
	// processed [5s].
	SweepInterval yamldoc.Duration `yaml:"sweep_interval" json:"sweep_interval"`
	// Notify says whom to tell about requests (delivery is pkg/notify's).
	Notify Notify `yaml:"notify" json:"notify"`
	// Activity receives what grants did (MinIO's audit webhook, CloudTrail
	// events through EventBridge); see docs/concepts.md "Activity".
	Activity Activity `yaml:"activity" json:"activity"`
	// LDAP is the directory the ldap_group roles' groups are in.
	LDAP LDAP `yaml:"ldap" json:"ldap"`
	// Managers says where a requester's manager comes from, for roles
	// whose approvers include manager_of_requester.
	Managers Managers `yaml:"managers" json:"managers"`
	// Admins may view, cancel and revoke any request; here or in
	// policy_file, not both.
	Admins *policy.Subjects `yaml:"admins" json:"admins,omitempty"`
	// PolicyFile holds admins: and roles: in their own file (relative to
	// this file); then roles: must not be set here.
	PolicyFile string `yaml:"policy_file" json:"policy_file,omitempty"`
	// Roles is the inline policy (see pkg/policy.RoleSpec).
	Roles []policy.RoleSpec `yaml:"roles" json:"-"`

	// Policy is the validated policy, from roles: or policy_file.
	Policy *policy.Policy `yaml:"-" json:"-"`
	// Warnings are positioned problems that do not stop the server.
	Warnings []string `yaml:"-" json:"warnings,omitempty"`
	// Path is the file the config was read from.
	Path string `yaml:"-" json:"path"`
}

// TLS names the certificate and key files.
type TLS struct {
	CertFile string `yaml:"cert_file" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file" json:"key_file,omitempty"`
}

// Enabled reports whether the server serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// OIDC configures login and token verification.
type OIDC struct {
	// Issuer is the IdP's issuer URL (https; http only on loopback).
	Issuer string `yaml:"issuer" json:"issuer"`
	// ClientID is the public (device-flow) client the CLI uses; ID tokens
	// must have it as audience.
	ClientID string `yaml:"client_id" json:"client_id"`
	// GroupsClaim is the ID token claim holding groups [groups].
	GroupsClaim string `yaml:"groups_claim" json:"groups_claim"`
	// Scopes the CLI asks for [openid, email, profile, offline_access].
	Scopes []string `yaml:"scopes" json:"scopes"`
	// ClockSkew tolerated when checking token times [30s].
	ClockSkew yamldoc.Duration `yaml:"clock_skew" json:"clock_skew"`
	// UsernameClaim names a claim the IdP guarantees to identify a user
	// (preferred_username, upn); policy users: entries are matched against
	// it. Unset, they match the email only when email_verified is true.
	UsernameClaim string `yaml:"username_claim" json:"username_claim,omitempty"`
	// MaxTokenLifetime refuses ID tokens whose exp - iat is longer [24h].
	MaxTokenLifetime yamldoc.Duration `yaml:"max_token_lifetime" json:"max_token_lifetime"`
}

// Web configures the web app (served when public_url is set).
type Web struct {
	// MaxLoginAge is how recent the approver's sign-in at the IdP must be
	// to see or decide a request; the page sends max_age and prompt=login,
	// and checks auth_time (else iat) [15m].
	MaxLoginAge yamldoc.Duration `yaml:"max_login_age" json:"max_login_age"`
	// SessionKey seals the page's session cookies (AES-256-GCM): 64 hex
	// characters. Give every replica the same key; unset, a random key is
	// made at start and sessions end with the process.
	SessionKey Secret `yaml:"session_key" json:"session_key,omitempty"`
	// SessionKeyFile holds session_key instead (see "Secrets from files").
	SessionKeyFile string `yaml:"session_key_file" json:"session_key_file,omitempty"`
	// FederationURL is the AWS federation endpoint the web app's "Open the
	// AWS console" signs in through [https://signin.aws.amazon.com/federation;
	// another partition's for GovCloud or China].
	FederationURL string `yaml:"federation_url" json:"federation_url,omitempty"`
	// ConsoleDestination is the console page it opens [https://console.aws.amazon.com/].
	ConsoleDestination string `yaml:"console_destination" json:"console_destination,omitempty"`
}

// SessionKeyBytes decodes SessionKey (nil when unset).
func (w Web) SessionKeyBytes() []byte {
	b, err := hex.DecodeString(w.SessionKey.Reveal())
	if err != nil || len(b) != 32 {
		return nil
	}
	return b
}

// Store names the database.
type Store struct {
	// DSN is sqlite:///path/to/jit.db or postgres://user:pass@host/db.
	DSN DSN `yaml:"dsn" json:"dsn"`
	// DSNFile holds the whole DSN instead of dsn.
	DSNFile string `yaml:"dsn_file" json:"dsn_file,omitempty"`
	// PasswordFile holds the database password, inserted into a
	// postgres:// DSN that has a user and no password.
	PasswordFile string `yaml:"password_file" json:"password_file,omitempty"`
}

// AWS configures the server's STS client.
type AWS struct {
	Region string `yaml:"region" json:"region,omitempty"`
	// STSEndpoint overrides the STS URL (tests: MinIO).
	STSEndpoint string `yaml:"sts_endpoint" json:"sts_endpoint,omitempty"`
	// AccessKeyID and SecretAccessKey are static keys; else the default
	// AWS credential chain.
	AccessKeyID     string `yaml:"access_key_id" json:"access_key_id,omitempty"`
	SecretAccessKey Secret `yaml:"secret_access_key" json:"secret_access_key,omitempty"`
	// AccessKeyIDFile and SecretAccessKeyFile hold the static keys instead.
	AccessKeyIDFile     string `yaml:"access_key_id_file" json:"access_key_id_file,omitempty"`
	SecretAccessKeyFile string `yaml:"secret_access_key_file" json:"secret_access_key_file,omitempty"`
	// RoleChaining: the server runs on role credentials, which caps
	// sessions at 1h [false].
	RoleChaining bool `yaml:"role_chaining" json:"role_chaining"`
	// SessionDenyActions are the actions the session policy denies once the
	// grant ends [["*"]]. MinIO refuses "*" under that condition: use
	// ["s3:*"] against MinIO (jit dev and the tests do).
	SessionDenyActions []string `yaml:"session_deny_actions" json:"session_deny_actions,omitempty"`
	// RevokeWithInlinePolicy: on revoke, add a Deny keyed on the grant to
	// the role's inline policy "jit-revocations" (needs iam:GetRolePolicy,
	// iam:PutRolePolicy, iam:DeleteRolePolicy in the role's account: the
	// server's own, or through Revokers) so vended credentials stop
	// working at once, not at the grant's end [false].
	RevokeWithInlinePolicy bool `yaml:"revoke_with_inline_policy" json:"revoke_with_inline_policy"`
	// IAMEndpoint overrides the IAM URL (tests).
	IAMEndpoint string `yaml:"iam_endpoint" json:"iam_endpoint,omitempty"`
	// Revokers maps an AWS account id (quoted, 12 digits) to the role the
	// server assumes there to write a role's jit-revocations policy. With
	// revoke_with_inline_policy, every role must be in the server's own
	// account (sts:GetCallerIdentity at start) or in an account listed here.
	Revokers map[string]Revoker `yaml:"revokers" json:"revokers,omitempty"`
	// RevokerSTSEndpoint overrides the STS URL used for GetCallerIdentity
	// and the revoker roles [sts_endpoint] (tests: a fake, while MinIO
	// serves the vends).
	RevokerSTSEndpoint string `yaml:"revoker_sts_endpoint" json:"revoker_sts_endpoint,omitempty"`
}

// LDAP is the connection to the directory of the ldap_group roles
// (pkg/target/ldapgroup): where it is, how jit's bind account logs in.
type LDAP struct {
	// URL is ldaps://host[:636] or ldap://host[:389] (ldap:// only with
	// start_tls or on localhost).
	URL string `yaml:"url" json:"url,omitempty"`
	// StartTLS upgrades an ldap:// connection with StartTLS [false].
	StartTLS bool `yaml:"start_tls" json:"start_tls,omitempty"`
	// CAFile is a PEM bundle of the CAs that sign the directory's
	// certificate [the system's].
	CAFile string `yaml:"ca_file" json:"ca_file,omitempty"`
	// BindDN is jit's bind account; it needs write on the groups' member
	// attribute and marker_attribute only (docs/security.md).
	BindDN string `yaml:"bind_dn" json:"bind_dn,omitempty"`
	// BindPasswordFile holds the bind account's password (never inline).
	BindPasswordFile string `yaml:"bind_password_file" json:"bind_password_file,omitempty"`
	// BindPassword is read from BindPasswordFile.
	BindPassword Secret `yaml:"-" json:"-"`
	// MarkerAttribute is the group attribute where jit records which
	// members it added, one value per grant [description].
	MarkerAttribute string `yaml:"marker_attribute" json:"marker_attribute,omitempty"`
	// Timeout bounds each directory operation [10s].
	Timeout yamldoc.Duration `yaml:"timeout" json:"timeout"`
}

// Revoker is the role assumed in one account to write revocations.
type Revoker struct {
	RoleARN    string `yaml:"role_arn" json:"role_arn"`
	ExternalID string `yaml:"external_id" json:"external_id,omitempty"`
}

// Audit configures the audit mirror.
type Audit struct {
	// ExportFile, when set, gets every event as a JSON line.
	ExportFile string `yaml:"export_file" json:"export_file,omitempty"`
	// SigningKeyFile holds the Ed25519 key that signs audit checkpoints
	// (made by jit server keygen; relative to the config file). Without it
	// the server publishes no checkpoints and clients cannot witness the log.
	SigningKeyFile string `yaml:"signing_key_file" json:"signing_key_file,omitempty"`
	// Anchor publishes every new checkpoint outside the server (optional).
	Anchor AuditAnchor `yaml:"anchor" json:"anchor"`
}

// AuditAnchor publishes signed checkpoints to a bucket with S3 Object Lock
// (write once, read many), so that not even the operator can take a
// published checkpoint back before its retention ends.
type AuditAnchor struct {
	// Bucket must have object lock enabled. Empty: no anchor.
	Bucket string `yaml:"bucket" json:"bucket,omitempty"`
	// Prefix of the object keys [checkpoints/].
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
	// Region of the bucket [us-east-1].
	Region string `yaml:"region" json:"region,omitempty"`
	// Endpoint overrides the S3 URL (MinIO, other S3-compatible stores).
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
	// AccessKeyID and SecretAccessKey; empty: the AWS SDK's default chain.
	AccessKeyID     string `yaml:"access_key_id" json:"access_key_id,omitempty"`
	SecretAccessKey Secret `yaml:"secret_access_key" json:"secret_access_key,omitempty"`
	// SecretAccessKeyFile holds the secret key instead.
	SecretAccessKeyFile string `yaml:"secret_access_key_file" json:"secret_access_key_file,omitempty"`
	// RetentionDays of COMPLIANCE-mode retention on each checkpoint [365].
	RetentionDays int `yaml:"retention_days" json:"retention_days,omitempty"`
	// Interval between checks for a grown tree [1m].
	Interval yamldoc.Duration `yaml:"interval" json:"interval"`
}

// RateLimit bounds API calls per user.
type RateLimit struct {
	RequestsPerMinute int `yaml:"requests_per_minute" json:"requests_per_minute"` // [30]
	Burst             int `yaml:"burst" json:"burst"`                             // [10]
	// FailedAuthPerMinute and FailedAuthBurst bound failed authentications
	// per client address; past them it gets 429 [10, 20].
	FailedAuthPerMinute int `yaml:"failed_auth_per_minute" json:"failed_auth_per_minute,omitempty"`
	FailedAuthBurst     int `yaml:"failed_auth_burst" json:"failed_auth_burst,omitempty"`
}

// Notify says whom to tell; delivered by pkg/notify (docs/webhooks.md).
type Notify struct {
	Webhooks []Webhook `yaml:"webhooks" json:"webhooks,omitempty"`
	Slack    Slack     `yaml:"slack" json:"slack"`
	// RemindBefore is how long before a grant ends that its requester is
	// reminded (grant.ending_soon), and before a pending request times out
	// that its approvers are (request.timing_out) [10m].
	RemindBefore yamldoc.Duration `yaml:"remind_before" json:"remind_before"`
}

// DefaultRemindBefore is notify.remind_before's default.
const DefaultRemindBefore = 10 * time.Minute

// Webhook receives signed JSON events.
type Webhook struct {
	URL string `yaml:"url" json:"url"`
	// Secret signs the payload (HMAC).
	Secret Secret `yaml:"secret" json:"secret,omitempty"`
	// SecretFile holds the secret instead.
	SecretFile string `yaml:"secret_file" json:"secret_file,omitempty"`
	// Events filters what is sent; empty means all.
	Events []string `yaml:"events" json:"events,omitempty"`
	// Format of the body: "jit" (docs/webhooks.md) or "ocsf" (one OCSF
	// event, docs/siem.md) ["jit"].
	Format string `yaml:"format" json:"format,omitempty"`
}

// Slack posts to a channel with a bot.
type Slack struct {
	BotToken      Secret `yaml:"bot_token" json:"bot_token,omitempty"`
	SigningSecret Secret `yaml:"signing_secret" json:"signing_secret,omitempty"`
	// TeamID is the Slack workspace (T…) whose button presses are accepted;
	// required with signing_secret (interactivity on).
	TeamID string `yaml:"team_id" json:"team_id,omitempty"`
	// BotTokenFile and SigningSecretFile hold them instead.
	BotTokenFile      string `yaml:"bot_token_file" json:"bot_token_file,omitempty"`
	SigningSecretFile string `yaml:"signing_secret_file" json:"signing_secret_file,omitempty"`
	// Channel is the default channel (roles may name their own).
	Channel string `yaml:"channel" json:"channel,omitempty"`
	// ApproveInSlackByEmail lets the Approve/Deny buttons decide: the Slack
	// user is mapped to an identity by their confirmed email, without an
	// IdP session or MFA (docs/webhooks.md explains the risk) [false: a
	// button press answers with a link to the approver page].
	ApproveInSlackByEmail bool `yaml:"approve_in_slack_by_email" json:"approve_in_slack_by_email"`
	// LinkMaxAge is how long a Slack account's link to a jit login lasts
	// before the person links again (a link carries the groups of the
	// sign-in that made it) [720h] (1h..8760h). Requests from Slack need a
	// link: the /jit slash command serves them when signing_secret and
	// team_id are set (docs/slack.md).
	LinkMaxAge yamldoc.Duration `yaml:"link_max_age" json:"link_max_age"`
}

// DefaultSlackLinkMaxAge is notify.slack.link_max_age's default.
const DefaultSlackLinkMaxAge = 30 * 24 * time.Hour

// slackTeamID is the shape of a Slack workspace id (T…, or E… for an
// Enterprise Grid organisation).
var slackTeamID = regexp.MustCompile(`^[TE][A-Z0-9]{2,20}$`)

// Enabled reports whether Slack is configured.
func (s Slack) Enabled() bool { return s.BotToken != "" }

// configured reports whether any Slack key is set.
func (s Slack) configured() bool { return s != (Slack{}) }

// Activity configures activity ingestion at /v1/activity/{minio,cloudtrail}.
type Activity struct {
	// Secret authenticates senders: "Authorization: Bearer SECRET", or an
	// X-Jit-Signature: sha256=HMAC-SHA256(SECRET, body). Empty: ingestion off.
	Secret Secret `yaml:"secret" json:"secret,omitempty"`
	// SecretFile holds the secret instead.
	SecretFile string `yaml:"secret_file" json:"secret_file,omitempty"`
	// Window is how often a grant's calls are written to the audit log as
	// one grant.activity record [15m] (1m..24h); a grant's end writes its last.
	Window yamldoc.Duration `yaml:"window" json:"window"`
}

// DefaultActivityWindow is activity.window's default.
const DefaultActivityWindow = 15 * time.Minute

// Load reads and validates the config file at path; a relative policy_file
// is read next to it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(path, data, filepath.Dir(path))
}

// Parse validates a config file's contents; name is used in errors. A
// policy_file is read relative to the current directory.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, "")
}

// parse parses a config; a relative policy_file is read from dir.
func parse(name string, data []byte, dir string) (*Config, error) {
	doc, err := yamldoc.Parse(name, data)
	if err != nil {
		return nil, err
	}
	c := &Config{Path: name}
	v := &validator{doc: doc}
	// Every problem in one run: decoding reports all it finds and fills in
	// the rest, and validation goes on after it.
	if err := doc.Decode("", c); err != nil {
		v.errs = append(v.errs, err)
	}
	c.readSecretFiles(v, dir)
	c.validate(v)

	// The policy.
	switch {
	case c.PolicyFile != "" && doc.Has("roles"):
		v.errorf("roles", "roles are set here and in policy_file %s; keep one", c.PolicyFile)
	case c.PolicyFile != "":
		c.Policy, err = c.loadPolicyFile(name, dir)
		if err != nil {
			v.errs = append(v.errs, err)
		}
	default:
		c.Policy, err = policy.FromDoc(doc, policy.File{Admins: c.Admins, Roles: c.Roles, Issuers: c.PolicyIssuers()})
		if err != nil {
			v.errs = append(v.errs, err)
		}
	}
	c.validateLDAPRoles(v)
	c.validateManagerRoles(v)
	if len(v.errs) > 0 {
		return nil, yamldoc.SortErrors(errors.Join(v.errs...))
	}
	c.Warnings = append(c.Warnings, c.Policy.Warnings...)
	if c.AWS.RoleChaining {
		for i, r := range c.Policy.Roles {
			if r.MaxDuration > RoleChainingCap {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: roles[%d] %s allows %s but role_chaining caps credentials at 1h; jit re-vends them while the grant lives", name, i, r.Name, r.MaxDuration))
			}
		}
	}
	return c, nil
}

func (c *Config) loadPolicyFile(name, dir string) (*policy.Policy, error) {
	path := c.PolicyFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: policy_file: %w", name, err)
	}
	pdoc, err := yamldoc.Parse(path, data)
	if err != nil {
		return nil, err
	}
	var f policy.File
	decodeErr := pdoc.Decode("", &f)
	if f.Admins != nil && c.Admins != nil {
		return nil, errors.Join(decodeErr, pdoc.Errorf("admins", "admins are set here and in %s; keep one", name))
	}
	if f.Admins == nil {
		f.Admins = c.Admins
	}
	f.Issuers = c.PolicyIssuers()
	p, err := policy.FromDoc(pdoc, f)
	if decodeErr != nil {
		return nil, errors.Join(decodeErr, err)
	}
	return p, err
}

// MaxSessionDuration is the longest STS session the server can get for r:
// the role's MaxSessionDuration, capped at 1h under role chaining.
func (c *Config) MaxSessionDuration(r *policy.Role) time.Duration {
	if c.AWS.RoleChaining {
		return min(r.MaxSessionDuration, RoleChainingCap)
	}
	return r.MaxSessionDuration
}

// String shows the config with secrets and DSN passwords redacted.
func (c *Config) String() string {
	roles := 0
	if c.Policy != nil {
		roles = len(c.Policy.Roles)
	}
	return fmt.Sprintf("config{path=%s listen=%s issuer=%s client_id=%s store=%s aws_region=%s aws_key=%s aws_secret=%s webhooks=%d slack=%t roles=%d}",
		c.Path, c.Listen, c.OIDC.Issuer, c.OIDC.ClientID, c.Store.DSN, c.AWS.Region, c.AWS.AccessKeyID, c.AWS.SecretAccessKey, len(c.Notify.Webhooks), c.Notify.Slack.Enabled(), roles)
}

// LogValue logs the config's shape, never a secret.
func (c *Config) LogValue() slog.Value {
	roles := 0
	if c.Policy != nil {
		roles = len(c.Policy.Roles)
	}
	return slog.GroupValue(
		slog.String("path", c.Path),
		slog.String("listen", c.Listen),
		slog.Bool("tls", c.TLS.Enabled()),
		slog.String("issuer", c.OIDC.Issuer),
		slog.String("client_id", c.OIDC.ClientID),
		slog.String("store", c.Store.DSN.String()),
		slog.String("aws_region", c.AWS.Region),
		slog.Bool("aws_static_keys", c.AWS.AccessKeyID != ""),
		slog.Bool("role_chaining", c.AWS.RoleChaining),
		slog.Int("webhooks", len(c.Notify.Webhooks)),
		slog.Bool("slack", c.Notify.Slack.Enabled()),
		slog.Int("roles", roles),
	)
}
