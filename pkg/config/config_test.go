package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `oidc: {issuer: https://idp.example.com, client_id: jit-cli}
store: {dsn: "sqlite:///tmp/jit.db"}
roles:
  - name: dev
    arn: arn:aws:iam::123456789012:role/dev
    eligible: {groups: [dev]}
    approvers: {groups: [approvers]}
`

func TestExampleConfigIsValid(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "docs", "examples", "jit.yaml"))
	if err != nil {
		t.Fatalf("docs/examples/jit.yaml: %v", err)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("warnings: %v", c.Warnings)
	}
	if _, ok := c.Policy.Role("prod-admin"); !ok {
		t.Error("prod-admin missing")
	}
	if c.Notify.Slack.BotToken.Reveal() != "xoxb-change-me" {
		t.Error("slack token not kept")
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("jit.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != DefaultListen || c.OIDC.GroupsClaim != "groups" || c.OIDC.ClockSkew.D() != 30*time.Second ||
		c.OIDC.MaxTokenLifetime.D() != 24*time.Hour || c.OIDC.UsernameClaim != "" ||
		c.RateLimit.RequestsPerMinute != 30 || c.RateLimit.Burst != 10 || c.SweepInterval.D() != 5*time.Second ||
		strings.Join(c.OIDC.Scopes, " ") != "openid email profile offline_access" || c.Store.DSN.Driver() != "sqlite" ||
		c.Store.DSN.SQLitePath() != "/tmp/jit.db" || c.TLS.Enabled() {
		t.Errorf("defaults: %+v", c)
	}
	r, _ := c.Policy.Role("dev")
	if got := c.MaxSessionDuration(r); got != time.Hour {
		t.Errorf("MaxSessionDuration = %s", got)
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown key", "listne: :8080\n" + minimal, `jit.yaml:1:1: unknown key "listne" (expected one of: activity, admins, audit, aws,`},
		{"unknown nested key", strings.Replace(minimal, "client_id:", "clientid:", 1), `jit.yaml:1:41: oidc: unknown key "clientid" (expected one of: client_id, clock_skew, groups_claim, issuer, max_token_lifetime, scopes, username_claim)`},
		{"role max_duration", minimal + "  - name: ops\n    arn: arn:aws:iam::123456789012:role/ops\n    eligible: {groups: [ops]}\n    approvers: {groups: [approvers]}\n    max_duration: 2x\n",
			`jit.yaml:12:19: roles[1].max_duration: "2x" is not a duration (use 15m, 1h, 12h)`},
		{"bad sweep interval", "sweep_interval: 5\n" + minimal, `jit.yaml:1:17: sweep_interval: "5" is not a duration`},
		{"sweep interval range", "sweep_interval: 1h\n" + minimal, `jit.yaml:1:17: sweep_interval: 1h0m0s is outside 100ms to 1m`},
		{"listen", "listen: localhost\n" + minimal, `jit.yaml:1:9: listen: "localhost" is not host:port`},
		{"issuer missing", strings.Replace(minimal, "issuer: https://idp.example.com, ", "", 1), `jit.yaml:1:8: oidc.issuer: the IdP's issuer URL is required`},
		{"issuer http", strings.Replace(minimal, "https://idp", "http://idp", 1), `oidc.issuer: http://idp.example.com/… uses plain http`},
		{"username claim that names nobody", "oidc: {issuer: https://idp.example.com, client_id: jit-cli, username_claim: email}\n" + minimal[strings.Index(minimal, "store"):], `oidc.username_claim: "email" is not a claim the IdP guarantees`},
		// Display names are the user's own to edit and never unique: "name:
		// Carol" would let anyone who renames themselves match users: [Carol].
		{"username claim that is a display name users edit", "oidc: {issuer: https://idp.example.com, client_id: jit-cli, username_claim: name}\n" + minimal[strings.Index(minimal, "store"):], `oidc.username_claim: "name" is not a claim the IdP guarantees`},
		{"username claim that is a nickname", "oidc: {issuer: https://idp.example.com, client_id: jit-cli, username_claim: nickname}\n" + minimal[strings.Index(minimal, "store"):], `oidc.username_claim: "nickname" is not a claim the IdP guarantees`},
		{"token lifetime range", "oidc: {issuer: https://idp.example.com, client_id: jit-cli, max_token_lifetime: 720h}\n" + minimal[strings.Index(minimal, "store"):], `oidc.max_token_lifetime: 720h0m0s is outside 5m to 168h`},
		{"scopes without openid", "oidc: {issuer: https://idp.example.com, client_id: jit-cli, scopes: [email]}\n" + minimal[strings.Index(minimal, "store"):], `oidc.scopes: must include openid`},
		{"store missing", strings.Replace(minimal, `store: {dsn: "sqlite:///tmp/jit.db"}`, "", 1), `store.dsn: store.dsn is required`},
		{"store scheme", strings.Replace(minimal, "sqlite:", "mysql:", 1), `jit.yaml:2:14: store.dsn: mysql:///tmp/jit.db is not a sqlite:// or postgres:// address`},
		{"half tls", "tls: {cert_file: a.crt}\n" + minimal, `jit.yaml:1:7: tls: set both cert_file and key_file`},
		{"half aws keys", "aws: {access_key_id: AKIA}\n" + minimal, `aws: set both access_key_id and secret_access_key`},
		// A revoker whose role is in another account would write the Deny on
		// a same-named role there, not on the revoked one.
		{"revoker role in another account", "aws: {revokers: {\"111122223333\": {role_arn: \"arn:aws:iam::444455556666:role/jit-revoker\"}}}\n" + minimal,
			`aws.revokers.111122223333.role_arn: role arn:aws:iam::444455556666:role/jit-revoker is in account 444455556666, not 111122223333`},
		{"revoker account", "aws: {revokers: {\"1111\": {role_arn: \"arn:aws:iam::111122223333:role/r\"}}}\n" + minimal, `"1111" is not a 12-digit AWS account id`},
		{"revoker unknown key", "aws: {revokers: {\"111122223333\": {role: x}}}\n" + minimal, `jit.yaml:1:35: unknown field "role"`},
		{"bool", "aws: {role_chaining: maybe}\n" + minimal, `jit.yaml:1:22: aws.role_chaining: "maybe" is not true or false`},
		{"webhook url", "notify: {webhooks: [{url: ftp://x}]}\n" + minimal, `notify.webhooks[0].url: ftp://x/… is not an http(s) URL`},
		{"slack interactivity without team_id", "notify: {slack: {bot_token: xoxb-1, signing_secret: s}}\n" + minimal, `notify.slack.team_id: team_id is required with signing_secret`},
		{"slack team_id shape", "notify: {slack: {bot_token: xoxb-1, signing_secret: s, team_id: acme}}\n" + minimal, `notify.slack.team_id: "acme" is not a Slack team id`},
		{"failed auth limit", "rate_limit: {failed_auth_per_minute: -1}\n" + minimal, `rate_limit.failed_auth_per_minute: -1 is negative`},
		{"webhook unknown key", "notify: {webhooks: [{url: https://x, sekret: y}]}\n" + minimal, `notify.webhooks[0]: unknown key "sekret" (expected one of: events, format, secret, secret_file, url)`},
		{"webhook format", "notify: {webhooks: [{url: https://x, secret: y, format: cef}]}\n" + minimal, `notify.webhooks[0].format: "cef": want jit (the default) or ocsf`},
		{"slack without token", "notify: {slack: {channel: \"#x\"}}\n" + minimal, `notify.slack.bot_token: bot_token is required`},
		{"roles and policy_file", "policy_file: p.yaml\n" + minimal, `jit.yaml:5:3: roles: roles are set here and in policy_file p.yaml; keep one`},
		{"no roles", minimal[:strings.Index(minimal, "roles:")], `roles: no roles are defined`},
		{"negative rate", "rate_limit: {burst: -1}\n" + minimal, `rate_limit.burst: -1 is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("jit.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n %v\nwant it to contain:\n %s", err, tt.want)
			}
		})
	}
}

func TestPolicyFile(t *testing.T) {
	dir := t.TempDir()
	head := minimal[:strings.Index(minimal, "roles:")]
	roles := minimal[strings.Index(minimal, "roles:"):]
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("policy.yaml", "admins: {users: [root@x]}\n"+roles)
	cfg := write("jit.yaml", head+"policy_file: policy.yaml\n")
	c, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policy.Roles) != 1 || c.Policy.Admins.Users[0] != "root@x" {
		t.Errorf("policy = %+v", c.Policy)
	}

	// Errors in the policy file name the policy file.
	bad := write("bad.yaml", roles+"    max_duration: 2x\n")
	_, err = Load(write("jit2.yaml", head+"policy_file: bad.yaml\n"))
	if err == nil || !strings.Contains(err.Error(), bad+`:6:19: roles[0].max_duration: "2x" is not a duration`) {
		t.Errorf("err = %v", err)
	}

	// Admins in both places is ambiguous.
	_, err = Load(write("jit3.yaml", head+"policy_file: policy.yaml\nadmins: {users: [other@x]}\n"))
	if err == nil || !strings.Contains(err.Error(), "admins: admins are set here and in") {
		t.Errorf("err = %v", err)
	}

	_, err = Load(write("jit4.yaml", head+"policy_file: missing.yaml\n"))
	if err == nil || !strings.Contains(err.Error(), "policy_file") {
		t.Errorf("err = %v", err)
	}
}

func TestRoleChainingCapsSessions(t *testing.T) {
	src := "aws: {role_chaining: true}\n" + strings.Replace(minimal, "eligible:", "max_session_duration: 4h\n    max_duration: 2h\n    eligible:", 1)
	c, err := Parse("jit.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Policy.Role("dev")
	if got := c.MaxSessionDuration(r); got != time.Hour {
		t.Errorf("MaxSessionDuration = %s, want 1h", got)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "role_chaining caps credentials at 1h") {
		t.Errorf("warnings = %v", c.Warnings)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	src := `aws: {access_key_id: AKIAEXAMPLE, secret_access_key: SECRET-AWS}
store: {dsn: "postgres://jit:SECRET-PG@db/jit"}
notify:
  webhooks: [{url: https://hooks.example.com, secret: SECRET-HOOK}]
  slack: {bot_token: SECRET-BOT, signing_secret: SECRET-SIGN, team_id: T0JIT}
` + strings.Replace(minimal, `store: {dsn: "sqlite:///tmp/jit.db"}`, "", 1)
	c, err := Parse("jit.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("loaded", "config", c, "aws", c.AWS, "notify", c.Notify, "store", c.Store)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join([]string{c.String(), fmt.Sprintf("%v %+v %#v", *c, *c, c.Notify), buf.String(), string(js)}, "\n")
	if strings.Contains(out, "SECRET") {
		t.Errorf("a secret leaked:\n%s", out)
	}
	if !strings.Contains(out, "postgres://jit:xxxxx@db/jit") {
		t.Errorf("dsn not shown redacted:\n%s", out)
	}
	if c.AWS.SecretAccessKey.Reveal() != "SECRET-AWS" || c.Store.DSN.Driver() != "postgres" {
		t.Error("values not kept")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	if b, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "jit.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("notify: {webhooks: [{url: x}]}\nsweep_interval: -1s\n"))
	f.Add([]byte(threeMistakes)) // errors reported past a bad value (allerrors_test.go)
	f.Add([]byte("roles: [a, {name: [x]}, {max_duration: [1h]}]\nstore: {dsn: [x], password_file: p}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil && c.Policy == nil {
			t.Fatal("no error and no policy")
		}
	})
}

// Every form pgx accepts a password in is redacted when a DSN is printed,
// and Scrub removes it from a driver's error text.
func TestDSNRedactsEveryPasswordFormPgxAccepts(t *testing.T) {
	for _, tc := range []struct{ dsn, secret, want string }{
		{"postgres://jit:SECRET1@db/jit", "SECRET1", "postgres://jit:xxxxx@db/jit"},
		{"postgres://jit@db/jit?sslmode=require&password=SECRET2", "SECRET2", "postgres://jit@db/jit?password=xxxxx&sslmode=require"},
		{"postgres://jit@db/jit?PassWord=SECRET3", "SECRET3", "postgres://jit@db/jit?PassWord=xxxxx"},
		{"postgres://jit@db/jit?pass%77ord=SECRET4", "SECRET4", "postgres://jit@db/jit?password=xxxxx"},
		{"postgres://jit@db/jit?sslpassword=SECRET5", "SECRET5", "postgres://jit@db/jit?sslpassword=xxxxx"},
		{"postgres://jit@db/jit?password=SECRET6;x", "SECRET6;x", "postgres://jit@db/jit?[redacted]"},
		{"host=db user=jit password=SECRET7 dbname=jit", "SECRET7", "host=db user=jit password=xxxxx dbname=jit"},
		{"host=db password = 'SECRET 8 \\' q' dbname=jit", "SECRET 8 ' q", "host=db password = xxxxx dbname=jit"},
		{"postgres://jit:SECRET9@db:bad port/jit", "SECRET9", "postgres://[unparsable dsn redacted]"},
		{"sqlite:///var/lib/jit/jit.db", "", "sqlite:///var/lib/jit/jit.db"},
	} {
		d := DSN(tc.dsn)
		if got := d.String(); got != tc.want {
			t.Errorf("DSN(%q).String() = %q, want %q", tc.dsn, got, tc.want)
		}
		if tc.secret == "" {
			continue
		}
		text := "failed to connect to `" + tc.dsn + "`: " + url.QueryEscape(tc.secret)
		if got := d.Scrub(text); strings.Contains(got, tc.secret) || strings.Contains(got, url.QueryEscape(tc.secret)) {
			if !strings.Contains(tc.dsn, "bad port") {
				t.Errorf("Scrub left the password in %q", got)
			}
		}
	}
}
