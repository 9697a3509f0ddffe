package config

import (
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/yamldoc"
)

// DefaultLDAPTimeout bounds each directory operation when ldap.timeout is unset.
const DefaultLDAPTimeout = 10 * time.Second

// validateLDAP checks the directory connection (ldap), when it is set.
func (c *Config) validateLDAP(v *validator) {
	l := &c.LDAP
	if l.Timeout.D() == 0 {
		l.Timeout = yamldoc.Duration(DefaultLDAPTimeout)
	}
	if l.MarkerAttribute == "" {
		l.MarkerAttribute = "description"
	}
	if l.URL == "" {
		if l.BindDN != "" || l.BindPasswordFile != "" || l.CAFile != "" || l.StartTLS {
			v.errorf("ldap", "ldap settings without ldap.url; add url: ldaps://ldap.example.org")
		}
		return
	}
	u, err := url.Parse(l.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps"):
		v.errorf("ldap.url", "%q is not an LDAP URL (ldaps://ldap.example.org or ldap://host:389 with start_tls: true)", l.URL)
	case u.Scheme == "ldap" && !l.StartTLS && !isLoopback(u.Hostname()):
		v.errorf("ldap.url", "%q sends the bind password in clear text; use ldaps:// or set start_tls: true (plain ldap:// only on localhost)", l.URL)
	case u.Scheme == "ldaps" && l.StartTLS:
		v.errorf("ldap.start_tls", "start_tls is for ldap:// URLs; an ldaps:// URL is TLS already")
	}
	if _, err := ldap.ParseDN(l.BindDN); l.BindDN == "" || err != nil {
		v.errorf("ldap.bind_dn", "%q is not the bind account's DN (cn=jit,ou=services,dc=example,dc=org)", l.BindDN)
	}
	if l.BindPasswordFile == "" {
		v.errorf("ldap.bind_password_file", "bind_password_file is required: a file holding the bind account's password")
	}
	if l.CAFile != "" {
		path := l.CAFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(c.Path), path)
		}
		if _, err := os.Stat(path); err != nil {
			v.errorf("ldap.ca_file", "cannot read the CA bundle: %v", err)
		}
		l.CAFile = path
	}
	if d := l.Timeout.D(); d < 0 || d > 5*time.Minute {
		v.errorf("ldap.timeout", "%s is outside 0s to 5m", d)
	}
}

// validateLDAPRoles refuses ldap_group roles when the server has no
// directory connection.
func (c *Config) validateLDAPRoles(v *validator) {
	if c.Policy == nil || c.LDAP.URL != "" {
		return
	}
	for _, r := range c.Policy.Roles {
		if r.TargetKind() == policy.KindLDAPGroup {
			v.errorf("ldap", "role %s is of kind ldap_group but the server has no ldap: connection; add ldap.url, ldap.bind_dn and ldap.bind_password_file", r.Name)
			return
		}
	}
}
