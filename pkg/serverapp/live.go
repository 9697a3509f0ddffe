package serverapp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/notify/notifier"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
)

// live is what a SIGHUP reload changes besides the policy: the secrets
// read from *_file keys (webhooks, Slack, the static AWS keys) and the TLS
// certificate, the activity secret. Every other setting (listen address,
// store, oidc.*, public_url, webhook URLs, …: restartRequired) takes a
// restart; a reload that changes one says so in the log and the audit.
type live struct {
	start *config.Config
	notes *notifier.Notifier
	// awsKeys feed awsCreds; a reload stores new keys and invalidates
	// the cache, so the next STS call signs with them. The keys are handed
	// out as expiring in a minute, so that a cache wrapped around this one
	// (the IAM revoker's) picks up rotated keys within a minute too.
	awsKeys  atomic.Pointer[aws.Credentials]
	awsCreds *aws.CredentialsCache
	now      func() time.Time
	certs    *certSource // nil without TLS
	// issuers verify tokens; a reload swaps in the new issuers: list.
	issuers *server.Issuers
}

// awsKeysRecheck is how often cached static keys are read again.
const awsKeysRecheck = time.Minute

// awsProvider returns the server's static-key provider (nil: the SDK's
// default chain).
func (l *live) awsProvider(cfg *config.Config) aws.CredentialsProvider {
	if cfg.AWS.AccessKeyID == "" {
		return nil
	}
	l.awsKeys.Store(&aws.Credentials{AccessKeyID: cfg.AWS.AccessKeyID, SecretAccessKey: cfg.AWS.SecretAccessKey.Reveal(), Source: "jit config"})
	l.awsCreds = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		c := *l.awsKeys.Load()
		c.CanExpire, c.Expires = true, l.now().Add(awsKeysRecheck)
		return c, nil
	}))
	return l.awsCreds
}

// apply takes a reloaded, valid config's secrets and returns the settings
// that changed but take effect only after a restart.
func (l *live) apply(cfg *config.Config) []string {
	var restart []string
	if l.notes != nil {
		restart = append(restart, l.notes.UpdateSecrets(cfg.Notify)...)
	}
	switch {
	case l.awsCreds != nil && cfg.AWS.AccessKeyID != "":
		l.awsKeys.Store(&aws.Credentials{AccessKeyID: cfg.AWS.AccessKeyID, SecretAccessKey: cfg.AWS.SecretAccessKey.Reveal(), Source: "jit config"})
		l.awsCreds.Invalidate()
	case (l.awsCreds != nil) != (cfg.AWS.AccessKeyID != ""):
		restart = append(restart, "aws static keys (added or removed)")
	}
	if cfg.TLS.Enabled() != l.start.TLS.Enabled() {
		restart = append(restart, "tls (turned on or off)")
	}
	for _, k := range restartRequired(l.start, cfg) {
		if !slices.Contains(restart, k) {
			restart = append(restart, k)
		}
	}
	return restart
}

// certSource serves the TLS certificate and swaps it atomically on reload;
// a certificate that fails to load leaves the old one in place.
type certSource struct {
	cert atomic.Pointer[tls.Certificate]
}

func newCertSource(certFile, keyFile string, now time.Time) (*certSource, error) {
	c, err := loadCertificate(certFile, keyFile, now)
	if err != nil {
		return nil, err
	}
	s := &certSource{}
	s.cert.Store(c)
	return s, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *certSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// reload loads the files and swaps the certificate in, or keeps the old one
// and returns why.
func (s *certSource) reload(certFile, keyFile string, now time.Time) error {
	c, err := loadCertificate(certFile, keyFile, now)
	if err != nil {
		return err
	}
	s.cert.Store(c)
	return nil
}

// loadCertificate reads a key pair and refuses one that is not valid now.
func loadCertificate(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parse TLS certificate %s: %w", certFile, err)
		}
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("TLS certificate %s expired at %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("TLS certificate %s is not valid before %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// reloadCert swaps the TLS certificate in from certFile and keyFile; on
// failure it keeps serving the old one, logs and audits why.
func (l *live) reloadCert(ctx context.Context, certFile, keyFile string, st store.Store, log *slog.Logger, now func() time.Time) {
	if l.certs == nil || certFile == "" {
		return
	}
	if err := l.certs.reload(certFile, keyFile, now()); err != nil {
		log.Error("TLS reload refused: keeping the running certificate", "err", err)
		if aerr := st.Append(ctx, audit.Event{Time: now(), Type: audit.TypeTLSRejected, Actor: "server", Reason: err.Error(),
			Detail: map[string]string{"cert_file": certFile}}); aerr != nil {
			log.Error("audit the TLS reload failure", "err", errors.Join(aerr))
		}
		return
	}
	log.Info("TLS certificate reloaded", "cert_file", certFile)
}
