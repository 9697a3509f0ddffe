// Package serverapp wires a server config file into a running jit server:
// it opens the store, builds the token verifier and the STS vendor, serves
// the API, runs the sweeper, and reloads the policy on SIGHUP.
package serverapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/auditmirror"
	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/metrics"
	"github.com/jit-access/jit/pkg/notify/notifier"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
	"github.com/jit-access/jit/pkg/vend"
	"github.com/jit-access/jit/pkg/webapprove"
)

// Options run a server.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger
	// Listener, when set, is used instead of listening on the config's address.
	Listener net.Listener
	// Ready is called with the server's URL once it accepts connections.
	Ready func(url string)
	// Now is the clock [time.Now].
	Now func() time.Time
	// Reload delivers reload requests [SIGHUP].
	Reload <-chan os.Signal
	// Revoker, when set, replaces the one the config selects (tests: a
	// stand-in that makes MinIO refuse revoked credentials).
	Revoker vend.Revoker
}

// Run serves until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	cfg, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "warning", w)
	}
	st, err := storeopen.Open(ctx, string(cfg.Store.DSN), log)
	if err != nil {
		return fmt.Errorf("open store %s: %w", cfg.Store.DSN, err)
	}
	defer st.Close()

	srv, err := newServer(ctx, cfg, st, log, opts.Now, opts.Revoker)
	if err != nil {
		return err
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	log.Info("jit server listening", "url", url, "store", cfg.Store.DSN, "issuer", cfg.OIDC.Issuer, "roles", len(cfg.Policy.Roles), "version", build.Version)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Run(runCtx) }()
	if cfg.Audit.ExportFile != "" {
		go func() {
			if err := auditmirror.Run(runCtx, st, cfg.Audit.ExportFile, time.Second, log); err != nil {
				log.Error("audit export file disabled", "file", cfg.Audit.ExportFile, "err", err)
			}
		}()
	}
	go func() {
		errc <- srv.Serve(runCtx, ln, server.ServeConfig{TLSCertFile: cfg.TLS.CertFile, TLSKeyFile: cfg.TLS.KeyFile})
	}()
	reload := opts.Reload
	if reload == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		reload = ch
	}
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-reload:
				Reload(runCtx, srv, opts.ConfigPath, st, log, opts.Now)
			}
		}
	}()
	if opts.Ready != nil {
		opts.Ready(url)
	}
	// Either ending (ctx done, or a failure) stops the other.
	var first error
	for range 2 {
		err := <-errc
		cancel()
		if err != nil && first == nil && !errors.Is(err, http.ErrServerClosed) {
			first = err
		}
	}
	log.Info("jit server stopped")
	return first
}

// New builds the server for cfg on an open store.
func New(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger, now func() time.Time) (*server.Server, error) {
	return newServer(ctx, cfg, st, log, now, nil)
}

func newServer(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger, now func() time.Time, revokerOverride vend.Revoker) (*server.Server, error) {
	var creds aws.CredentialsProvider
	if cfg.AWS.AccessKeyID != "" {
		creds = credentials.NewStaticCredentialsProvider(cfg.AWS.AccessKeyID, cfg.AWS.SecretAccessKey.Reveal(), "")
	}
	vendor, err := vend.NewSTS(vend.STSConfig{
		Region: cfg.AWS.Region, Endpoint: cfg.AWS.STSEndpoint, Credentials: creds,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, DenyActions: cfg.AWS.SessionDenyActions,
	})
	if err != nil {
		return nil, fmt.Errorf("set up STS: %w", err)
	}
	var revoker vend.Revoker
	if cfg.AWS.RevokeWithInlinePolicy {
		if revoker, err = vend.NewIAMRevoker(vend.IAMConfig{
			Endpoint: cfg.AWS.IAMEndpoint, Credentials: creds, Now: now,
			HTTPClient: &http.Client{Timeout: 30 * time.Second},
		}); err != nil {
			return nil, fmt.Errorf("set up IAM revocation: %w", err)
		}
	}
	if revokerOverride != nil {
		revoker = revokerOverride
	}
	var sessionCap time.Duration
	if cfg.AWS.RoleChaining {
		sessionCap = config.RoleChainingCap
	}
	// The approver web page (pkg/webapprove) needs public_url for its
	// redirect URI; it reads the policy in force from the server.
	var srv *server.Server
	var routes func(*http.ServeMux)
	if cfg.PublicURL != "" {
		web, err := webapprove.New(webapprove.Options{
			PublicURL: cfg.PublicURL, Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID,
			MaxLoginAge: cfg.Web.MaxLoginAge.D(), ClockSkew: cfg.OIDC.ClockSkew.D(), SessionKey: cfg.Web.SessionKeyBytes(),
			Policy:     func() *policy.Policy { return srv.Policy() },
			HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: now, Logger: log,
		})
		if err != nil {
			return nil, err
		}
		routes = web.Register
	}
	// Notifications (pkg/notify): webhooks, Slack, reminders; they run
	// until ctx ends, delivering from the audit log.
	notes, err := notifier.New(notifier.Options{Config: cfg.Notify, PublicURL: cfg.PublicURL, Store: st,
		Policy: func() *policy.Policy { return srv.Policy() }, Client: &http.Client{Timeout: 15 * time.Second}, Now: now, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("set up notifications: %w", err)
	}
	webRoutes := routes
	routes = func(mux *http.ServeMux) {
		if webRoutes != nil {
			webRoutes(mux)
		}
		notes.Register(mux)
	}
	srv, err = server.New(server.Options{
		Events:  notes.Nudge,
		Metrics: []*metrics.Registry{notes.Metrics()},
		Routes:  routes,
		Store:   st,
		Policy:  cfg.Policy,
		Vendor:  vendor,
		Verifier: server.NewOIDCVerifier(server.OIDCVerifierConfig{
			Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, GroupsClaim: cfg.OIDC.GroupsClaim,
			ClockSkew: cfg.OIDC.ClockSkew.D(), Now: now,
		}),
		Discovery: api.Discovery{
			Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, Scopes: cfg.OIDC.Scopes, ServerVersion: build.Version,
		},
		Now:               now,
		Logger:            log,
		RequestsPerMinute: float64(cfg.RateLimit.RequestsPerMinute),
		RequestBurst:      cfg.RateLimit.Burst,
		SweepInterval:     cfg.SweepInterval.D(),
		SessionCap:        sessionCap,
		Revoker:           revoker,
		Activity:          server.ActivityOptions{Secret: cfg.Activity.Secret.Reveal(), Window: cfg.Activity.Window.D()},
	})
	if err != nil {
		return nil, err
	}
	if err := srv.SetPolicy(ctx, cfg.Policy, cfg.Path); err != nil {
		return nil, fmt.Errorf("audit the policy load: %w", err)
	}
	go notes.Run(ctx)
	return srv, nil
}

// Reload reads the config again and swaps the policy in; an invalid file
// keeps the old policy running, and says why in the log and the audit.
func Reload(ctx context.Context, srv *server.Server, path string, st store.Store, log *slog.Logger, now func() time.Time) {
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("reload refused: keeping the running policy", "err", err)
		_ = st.Append(ctx, store.Event{Time: now(), Type: audit.TypePolicyRejected, Actor: "server", Reason: err.Error(),
			Detail: map[string]string{"source": path}})
		return
	}
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "warning", w)
	}
	if err := srv.SetPolicy(ctx, cfg.Policy, path); err != nil {
		log.Error("reload: audit failed", "err", err)
		return
	}
	log.Info("policy reloaded", "roles", len(cfg.Policy.Roles))
}
