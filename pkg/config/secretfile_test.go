package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSecrets writes name→content files into a temp dir and returns it.
func writeSecrets(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const roles = `roles:
  - name: dev
    arn: arn:aws:iam::123456789012:role/dev
    eligible: {groups: [dev]}
    approvers: {groups: [approvers]}
`

func TestEverySecretCanComeFromAFile(t *testing.T) {
	key := strings.Repeat("ab", 32)
	dir := writeSecrets(t, map[string]string{
		"session": key + "\n", "akid": "AKIAFROMFILE\n", "sak": "secret-from-file\r\n", "hook": "hook-secret\n",
		"bot": "xoxb-from-file", "signing": "signing-from-file\n", "pgpass": "p@ss:w/rd\n",
		"activity": "activity-secret-from-file-0123\n", "anchor": "anchor-secret-from-file\n",
	})
	src := `public_url: https://jit.example.com
web: {session_key_file: session}
oidc: {issuer: https://idp.example.com, client_id: jit-cli}
store: {dsn: "postgres://jit@db.example.com:5432/jit?sslmode=require", password_file: pgpass}
aws: {access_key_id_file: akid, secret_access_key_file: ` + filepath.Join(dir, "sak") + `}
notify:
  webhooks: [{url: https://hooks.example.com/jit, secret_file: hook}]
  slack: {bot_token_file: bot, signing_secret_file: signing, team_id: T0123ABCD, channel: "#jit", approve_in_slack_by_email: true}
activity: {secret_file: activity}
audit: {anchor: {bucket: jit-checkpoints, access_key_id: AKIAANCHOR, secret_access_key_file: anchor}}
` + roles
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"web.session_key":                {c.Web.SessionKey.Reveal(), key},
		"aws.access_key_id":              {c.AWS.AccessKeyID, "AKIAFROMFILE"},
		"aws.secret_access_key":          {c.AWS.SecretAccessKey.Reveal(), "secret-from-file"},
		"notify.webhooks[0].secret":      {c.Notify.Webhooks[0].Secret.Reveal(), "hook-secret"},
		"notify.slack.bot_token":         {c.Notify.Slack.BotToken.Reveal(), "xoxb-from-file"},
		"notify.slack.signing_secret":    {c.Notify.Slack.SigningSecret.Reveal(), "signing-from-file"},
		"activity.secret":                {c.Activity.Secret.Reveal(), "activity-secret-from-file-0123"},
		"audit.anchor.secret_access_key": {c.Audit.Anchor.SecretAccessKey.Reveal(), "anchor-secret-from-file"},
		"store.dsn":                      {string(c.Store.DSN), "postgres://jit:p%40ss%3Aw%2Frd@db.example.com:5432/jit?sslmode=require"},
	}
	for k, got := range checks {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", k, got[0], got[1])
		}
	}
	if c.Web.SessionKeyBytes() == nil {
		t.Error("session key from file not usable")
	}
	if s := c.String(); strings.Contains(s, "p@ss") || strings.Contains(s, "secret-from-file") {
		t.Errorf("String leaks a secret read from a file: %s", s)
	}
}

func TestDSNFromFile(t *testing.T) {
	dir := writeSecrets(t, map[string]string{"dsn": "postgres://jit:pw@db/jit\n"})
	src := "oidc: {issuer: https://idp.example.com, client_id: jit-cli}\nstore: {dsn_file: dsn}\n" + roles
	path := filepath.Join(dir, "jit.yaml")
	os.WriteFile(path, []byte(src), 0o600)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Store.DSN) != "postgres://jit:pw@db/jit" || c.Store.DSN.Driver() != "postgres" {
		t.Errorf("dsn = %q", string(c.Store.DSN))
	}
}

func TestSecretGivenInlineAndAsFileIsAnErrorNamingBoth(t *testing.T) {
	dir := writeSecrets(t, map[string]string{"hook": "x\n", "pw": "pw\n", "dsn": "sqlite:///x.db"})
	tests := []struct{ name, src, want string }{
		{"webhook", "notify:\n  webhooks:\n    - url: https://h.example.com\n      secret: inline\n      secret_file: hook\n",
			`jit.yaml:5:20: notify.webhooks[0].secret_file: notify.webhooks[0].secret (line 4) and notify.webhooks[0].secret_file are both set; keep one`},
		{"aws", "aws:\n  access_key_id: AKIA\n  secret_access_key: s\n  secret_access_key_file: hook\n",
			`jit.yaml:4:27: aws.secret_access_key_file: aws.secret_access_key (line 3) and aws.secret_access_key_file are both set; keep one`},
		{"dsn password", "", `store.password_file: the dsn has a password and store.password_file is set; keep one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src + "oidc: {issuer: https://idp.example.com, client_id: jit-cli}\nstore: {dsn: \"sqlite:///tmp/x.db\"}\n" + roles
			if tt.src == "" {
				src = "oidc: {issuer: https://idp.example.com, client_id: jit-cli}\nstore: {dsn: \"postgres://jit:inline@db/jit\", password_file: pw}\n" + roles
			}
			path := filepath.Join(dir, "jit.yaml")
			os.WriteFile(path, []byte(src), 0o600)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n %v\nwant it to contain:\n %s", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("error does not start with file:line:col: %v", err)
			}
		})
	}
}

func TestUnreadableOrEmptySecretFileIsAClearError(t *testing.T) {
	dir := writeSecrets(t, map[string]string{"empty": "\n"})
	tests := []struct{ file, want string }{
		{"missing", "notify.webhooks[0].secret_file: cannot read the secret: open " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"empty", "notify.webhooks[0].secret_file: " + filepath.Join(dir, "empty") + " is empty; put the secret in it"},
	}
	for _, tt := range tests {
		src := "notify: {webhooks: [{url: https://h.example.com, secret_file: " + tt.file + "}]}\n" +
			"oidc: {issuer: https://idp.example.com, client_id: jit-cli}\nstore: {dsn: \"sqlite:///tmp/x.db\"}\n" + roles
		path := filepath.Join(dir, "jit.yaml")
		os.WriteFile(path, []byte(src), 0o600)
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), "jit.yaml:1:") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error:\n %v\nwant it to contain:\n %s", tt.file, err, tt.want)
		}
		// Only the one error: no "secret is required" on top.
		if strings.Contains(err.Error(), "secret is required") {
			t.Errorf("%s: extra error: %v", tt.file, err)
		}
	}
}
