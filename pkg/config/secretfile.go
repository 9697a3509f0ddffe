package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Secrets from files: every secret key of the server config has a sibling
// "<key>_file" naming a file that holds the value (Prometheus' convention;
// Docker and Kubernetes secrets, systemd credentials), so that no secret
// needs to sit in the YAML. A relative path is read from the config file's
// directory. The file is read at every load (start and SIGHUP reload), one
// trailing newline is trimmed, and an unreadable or empty file is an error;
// a key given both inline and as a file is an error naming both.

// readSecretFiles fills the secrets given as *_file keys.
func (c *Config) readSecretFiles(v *validator, dir string) {
	secretFile(v, dir, "web.session_key", c.Web.SessionKeyFile, &c.Web.SessionKey)
	secretFile(v, dir, "aws.access_key_id", c.AWS.AccessKeyIDFile, &c.AWS.AccessKeyID)
	secretFile(v, dir, "aws.secret_access_key", c.AWS.SecretAccessKeyFile, &c.AWS.SecretAccessKey)
	for i := range c.Notify.Webhooks {
		w := &c.Notify.Webhooks[i]
		secretFile(v, dir, fmt.Sprintf("notify.webhooks[%d].secret", i), w.SecretFile, &w.Secret)
	}
	secretFile(v, dir, "notify.slack.bot_token", c.Notify.Slack.BotTokenFile, &c.Notify.Slack.BotToken)
	secretFile(v, dir, "notify.slack.signing_secret", c.Notify.Slack.SigningSecretFile, &c.Notify.Slack.SigningSecret)
	secretFile(v, dir, "activity.secret", c.Activity.SecretFile, &c.Activity.Secret)
	secretFile(v, dir, "audit.anchor.secret_access_key", c.Audit.Anchor.SecretAccessKeyFile, &c.Audit.Anchor.SecretAccessKey)
	secretFile(v, dir, "ldap.bind_password", c.LDAP.BindPasswordFile, &c.LDAP.BindPassword)

	secretFile(v, dir, "store.dsn", c.Store.DSNFile, &c.Store.DSN)
	if c.Store.PasswordFile != "" {
		var pw Secret
		if !secretFile(v, dir, "store.password", c.Store.PasswordFile, &pw) {
			return
		}
		if c.Store.DSN == "" {
			return // validate says dsn is required
		}
		u, err := url.Parse(string(c.Store.DSN))
		switch {
		case err != nil || c.Store.DSN.Driver() != "postgres":
			v.errorf("store.password_file", "password_file needs a postgres://user@host/db dsn to put the password in")
		case u.User == nil || u.User.Username() == "":
			v.errorf("store.password_file", "the dsn names no user for the password (postgres://jit@host/db)")
		default:
			if _, has := u.User.Password(); has {
				v.errorf("store.password_file", "the dsn has a password and store.password_file is set; keep one")
				return
			}
			u.User = url.UserPassword(u.User.Username(), pw.Reveal())
			c.Store.DSN = DSN(u.String())
		}
	}
}

// secretFile reads file (the value of key+"_file") into *value; it reports
// whether a value was read.
func secretFile[T ~string](v *validator, dir, key, file string, value *T) bool {
	if file == "" {
		return false
	}
	fileKey := key + "_file"
	if *value != "" {
		other := v.doc.Errorf(key, "")
		v.errorf(fileKey, "%s (line %d) and %s are both set; keep one", key, other.Line, fileKey)
		return false
	}
	path := file
	if !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		v.errorf(fileKey, "cannot read the secret: %v (check the path and that the server's user may read it)", err)
		return false
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if strings.TrimSpace(s) == "" {
		v.errorf(fileKey, "%s is empty; put the secret in it", path)
		return false
	}
	*value = T(s)
	return true
}
