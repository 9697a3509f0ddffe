package serverapp

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/target/ldapgroup"
)

// newLDAPTarget builds the ldap_group target from the server's ldap:
// connection (its CA bundle, when set).
func newLDAPTarget(cfg *config.Config, log *slog.Logger) (*ldapgroup.Target, error) {
	l := cfg.LDAP
	tc, err := ldapTLS(cfg)
	if err != nil {
		return nil, err
	}
	return ldapgroup.New(ldapgroup.Options{URL: l.URL, StartTLS: l.StartTLS, TLS: tc, BindDN: l.BindDN,
		Password: l.BindPassword.Reveal(), Marker: l.MarkerAttribute, Timeout: l.Timeout.D(), Logger: log})
}

// ldapTLS is the TLS configuration of the server's ldap: connection (its
// CA bundle, when set).
func ldapTLS(cfg *config.Config) (*tls.Config, error) {
	l := cfg.LDAP
	u, err := url.Parse(l.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap.url: %w", err)
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if l.CAFile != "" {
		pem, err := os.ReadFile(l.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap.ca_file: %s holds no PEM certificate", l.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}
