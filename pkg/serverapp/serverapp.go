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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/auditanchor"
	"github.com/jit-access/jit/pkg/auditmirror"
	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/exitcode"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/metrics"
	"github.com/jit-access/jit/pkg/notify/notifier"
	"github.com/jit-access/jit/pkg/notify/slack"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/slacklink"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
	"github.com/jit-access/jit/pkg/vend"
	"github.com/jit-access/jit/pkg/webapp"
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
	// SlackAPIURL, when set, is where Slack's Web API is reached and the
	// prefix a response_url must have (tests: the local Slack fake,
	// internal/fakeslack) [Slack's].
	SlackAPIURL string
}

// seams are the stand-ins tests put in for what cannot run here.
type seams struct {
	revoker     vend.Revoker
	slackAPIURL string
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
		return cfg.Store.DSN.ScrubError(fmt.Errorf("open store %s: %w", cfg.Store.DSN, err))
	}
	defer st.Close()

	var certs *certSource
	if cfg.TLS.Enabled() {
		if certs, err = newCertSource(cfg.TLS.CertFile, cfg.TLS.KeyFile, opts.Now()); err != nil {
			return err
		}
	}
	srv, lv, err := newServer(ctx, cfg, st, log, opts.Now, seams{revoker: opts.Revoker, slackAPIURL: opts.SlackAPIURL})
	if err != nil {
		return err
	}
	lv.certs = certs
	ln, url, err := listen(cfg, opts.Listener)
	if err != nil {
		return err
	}
	log.Info("jit server listening", "url", url, "store", cfg.Store.DSN, "issuer", cfg.OIDC.Issuer, "roles", len(cfg.Policy.Roles), "version", build.Version)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Run(runCtx) }()
	go exportAudit(runCtx, cfg, st, log)
	if cfg.Audit.SigningKeyFile != "" {
		if err := startCheckpoints(runCtx, cfg, srv, st, log, opts.Now); err != nil {
			return err
		}
	}
	go func() {
		sc := server.ServeConfig{TLSCertFile: cfg.TLS.CertFile, TLSKeyFile: cfg.TLS.KeyFile}
		if lv.certs != nil {
			sc.GetCertificate = lv.certs.GetCertificate
		}
		errc <- srv.Serve(runCtx, ln, sc)
	}()
	reloads, stopReloads := reloadSignal(opts.Reload)
	defer stopReloads()
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-reloads:
				reload(runCtx, srv, lv, opts.ConfigPath, st, log, opts.Now)
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

// exportAudit mirrors the audit log into audit.export_file, when set, until
// ctx ends; a failure disables the mirror and is logged.
func exportAudit(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger) {
	if cfg.Audit.ExportFile == "" {
		return
	}
	if err := auditmirror.Run(ctx, st, cfg.Audit.ExportFile, time.Second, log); err != nil {
		log.Error("audit export file disabled", "file", cfg.Audit.ExportFile, "err", err)
	}
}

// listen returns ln, or else a listener on cfg.Listen, and the server's URL
// on it.
func listen(cfg *config.Config, ln net.Listener) (net.Listener, string, error) {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, "", fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	scheme := "http"
	if cfg.TLS.Enabled() {
		scheme = "https"
	}
	return ln, scheme + "://" + ln.Addr().String(), nil
}

// reloadSignal is the channel that asks for a reload: reload when given,
// else SIGHUP; stop stops listening for the signal.
func reloadSignal(reload <-chan os.Signal) (ch <-chan os.Signal, stop func()) {
	if reload != nil {
		return reload, func() {}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// New builds the server for cfg on an open store.
func New(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger, now func() time.Time) (*server.Server, error) {
	srv, _, err := newServer(ctx, cfg, st, log, now, seams{})
	return srv, err
}

// newServer builds the server and what a reload may swap in it.
func newServer(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger, now func() time.Time, seam seams) (*server.Server, *live, error) {
	lv := &live{start: cfg, now: now}
	creds := lv.awsProvider(cfg)
	vendor, err := newVendor(cfg, creds)
	if err != nil {
		return nil, nil, err
	}
	revoker, err := newRevoker(ctx, cfg, st, creds, now)
	if err != nil {
		return nil, nil, err
	}
	if seam.revoker != nil {
		revoker = seam.revoker
	}
	// Every door calls one grants service; notifications (built below, and
	// built on it) are told of what it stores.
	var notes *notifier.Notifier
	svc, err := newGrants(ctx, cfg, st, log, now, vendor, revoker, func(e audit.Event) {
		if notes != nil {
			notes.Nudge(e)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	// The API and the approver page verify ID tokens with the same issuers.
	verifiers, err := issuerVerifiers(ctx, cfg, now)
	if err != nil {
		return nil, nil, err
	}
	if lv.issuers, err = server.NewIssuers(verifiers...); err != nil {
		return nil, nil, err
	}
	// The web app and notifications read the policy in force; the web
	// app's live pages wait on the API's hub.
	currentPolicy := svc.Policy
	hub := server.NewHub()
	web, err := webRoutes(cfg, svc, lv.issuers, hub, now, log)
	if err != nil {
		return nil, nil, err
	}
	// Notifications (pkg/notify): webhooks, Slack, reminders; they run
	// until ctx ends, delivering from the audit log.
	links, err := slackLinks(cfg, st, now)
	if err != nil {
		return nil, nil, err
	}
	var notifyLinks slack.Links
	var serverLinks server.SlackLinks
	if links != nil {
		notifyLinks, serverLinks = links, links
	}
	notes, err = notifier.New(notifier.Options{Config: cfg.Notify, PublicURL: cfg.PublicURL, Store: st,
		Policy: currentPolicy, Grants: svc, Links: notifyLinks, Requests: svc, SlackAPIURL: seam.slackAPIURL,
		Client: &http.Client{Timeout: 15 * time.Second}, Now: now, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("set up notifications: %w", err)
	}
	routes := func(mux *http.ServeMux) {
		if web != nil {
			web(mux)
		}
		notes.Register(mux)
	}
	checkpointKey, err := loadCheckpointKey(cfg)
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.New(server.Options{
		Grants:     svc,
		Hub:        hub,
		Metrics:    []*metrics.Registry{notes.Metrics()},
		Routes:     routes,
		SlackLinks: serverLinks,
		Store:      st,
		Verifier:   lv.issuers,
		Discovery: api.Discovery{
			Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID, Scopes: cfg.OIDC.Scopes, ServerVersion: build.Version,
		},
		Now:           now,
		Logger:        log,
		SweepInterval: cfg.SweepInterval.D(),

		// Zero: the server's defaults (10 a minute, burst 20).
		AuthFailuresPerMinute: float64(cfg.RateLimit.FailedAuthPerMinute),
		AuthFailureBurst:      cfg.RateLimit.FailedAuthBurst,
		CheckpointKey:         checkpointKey,
		Activity:              server.ActivityOptions{Secret: cfg.Activity.Secret.Reveal(), Window: cfg.Activity.Window.D()},
	})
	if err != nil {
		return nil, nil, err
	}
	if err := srv.SetPolicy(ctx, cfg.Policy, cfg.Path); err != nil {
		return nil, nil, fmt.Errorf("audit the policy load: %w", err)
	}
	go notes.Run(ctx)
	lv.notes = notes
	return srv, lv, nil
}

// newGrants builds the grants service every door calls, with the IAM role
// target over the STS vendor and the revoker, and checks the policy's roles
// with their targets (refusing to start with a role whose Deny could not be
// written in its own account).
func newGrants(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger, now func() time.Time,
	vendor vend.Vendor, revoker vend.Revoker, events func(audit.Event)) (*grants.Service, error) {
	ts := []target.Target{awsrole.New(awsrole.Options{Vendor: vendor, Revoker: revoker, SessionCap: sessionCap(cfg), Audit: st})}
	if cfg.LDAP.URL != "" {
		lt, err := newLDAPTarget(cfg, log)
		if err != nil {
			return nil, err
		}
		ts = append(ts, lt)
	}
	targets, err := target.NewRegistry(ts...)
	if err != nil {
		return nil, err
	}
	managers, err := newManagers(cfg, now)
	if err != nil {
		return nil, err
	}
	var activity grants.Activity
	if act, ok := st.(store.ActivityStore); ok {
		activity = act
	}
	svc, err := grants.New(grants.Options{Store: st, Activity: activity, ActivityWindow: cfg.Activity.Window.D(),
		Policy: cfg.Policy, Targets: targets, Events: events, Managers: managers,
		RequestsPerMinute: float64(cfg.RateLimit.RequestsPerMinute), RequestBurst: cfg.RateLimit.Burst,
		Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := svc.CheckPolicy(ctx, cfg.Policy); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	// What a target created but no live grant owns (a crash, an end missed
	// while the target was down) ends now; the sweep repeats this.
	if n, err := svc.Reconcile(ctx); err != nil {
		log.Warn("reconcile targets at start", "err", err)
	} else if n.Removed+n.Started > 0 {
		log.Info("reconciled targets at start", "removed", n.Removed, "started", n.Started)
	}
	return svc, nil
}

// sessionCap is the longest STS session jit asks for: AWS's one-hour cap
// on role chaining when aws.role_chaining is set, else none (0).
func sessionCap(cfg *config.Config) time.Duration {
	if cfg.AWS.RoleChaining {
		return config.RoleChainingCap
	}
	return 0
}

// newRevoker builds the IAM revoker when aws.revoke_with_inline_policy is
// set (else nil); the IAM role target checks the roles with it.
func newRevoker(_ context.Context, cfg *config.Config, st store.Store, creds aws.CredentialsProvider, now func() time.Time) (vend.Revoker, error) {
	if !cfg.AWS.RevokeWithInlinePolicy {
		return nil, nil
	}
	iamRevoker, err := newIAMRevoker(cfg, creds, now, st.WithLock)
	if err != nil {
		return nil, err
	}
	return iamRevoker, nil
}

// newVendor is the server's STS vendor for cfg.
func newVendor(cfg *config.Config, creds aws.CredentialsProvider) (*vend.STS, error) {
	vendor, err := vend.NewSTS(vend.STSConfig{
		Region: cfg.AWS.Region, Endpoint: cfg.AWS.STSEndpoint, Credentials: creds,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, DenyActions: cfg.AWS.SessionDenyActions,
	})
	if err != nil {
		return nil, fmt.Errorf("set up STS: %w", err)
	}
	return vendor, nil
}

// newIAMRevoker is the server's IAM revoker for cfg; lock serialises the
// writes of one role's policy (nil: within this process).
func newIAMRevoker(cfg *config.Config, creds aws.CredentialsProvider, now func() time.Time,
	lock func(ctx context.Context, key string, fn func(ctx context.Context) error) error) (*vend.IAMRevoker, error) {
	revokers := map[string]vend.RevokerRole{}
	for account, r := range cfg.AWS.Revokers {
		revokers[account] = vend.RevokerRole{RoleARN: r.RoleARN, ExternalID: r.ExternalID}
	}
	stsEndpoint := cfg.AWS.RevokerSTSEndpoint
	if stsEndpoint == "" {
		stsEndpoint = cfg.AWS.STSEndpoint
	}
	r, err := vend.NewIAMRevoker(vend.IAMConfig{
		Region: cfg.AWS.Region, Endpoint: cfg.AWS.IAMEndpoint, STSEndpoint: stsEndpoint, Credentials: creds, Now: now,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}, Revokers: revokers, Lock: lock,
	})
	if err != nil {
		return nil, fmt.Errorf("set up IAM revocation: %w", err)
	}
	return r, nil
}

// slackLinks is the Slack account links when Slack can take calls (a
// signing secret and the workspace's id); nil otherwise.
func slackLinks(cfg *config.Config, st store.Store, now func() time.Time) (*slacklink.Service, error) {
	sc := cfg.Notify.Slack
	if !sc.Enabled() || sc.SigningSecret == "" || sc.TeamID == "" {
		return nil, nil
	}
	maxAge := sc.LinkMaxAge.D()
	if maxAge == 0 {
		maxAge = config.DefaultSlackLinkMaxAge
	}
	return slacklink.New(slacklink.Options{Store: st, TeamID: sc.TeamID, MaxAge: maxAge, Now: now})
}

// webRoutes mounts the web app (pkg/webapp), which needs public_url for
// its redirect URI, and reads and acts through the grants service as the
// user the API's verifier says; its live pages wait on hub. Without
// public_url there is no app (nil).
func webRoutes(cfg *config.Config, svc *grants.Service, verifier webapp.TokenVerifier, hub *server.Hub, now func() time.Time, log *slog.Logger) (func(*http.ServeMux), error) {
	if cfg.PublicURL == "" {
		return nil, nil
	}
	web, err := webapp.New(webapp.Options{
		PublicURL: cfg.PublicURL, Issuer: cfg.OIDC.Issuer, ClientID: cfg.OIDC.ClientID,
		MaxLoginAge: cfg.Web.MaxLoginAge.D(), ClockSkew: cfg.OIDC.ClockSkew.D(), SessionKey: cfg.Web.SessionKeyBytes(),
		Grants: svc, Verifier: verifier, Changes: hub,
		FederationURL: cfg.Web.FederationURL, ConsoleDestination: cfg.Web.ConsoleDestination,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}, Now: now, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return web.Register, nil
}

// Reload reads the config again and swaps the policy in; an invalid file
// keeps the old policy running, and says why in the log and the audit.
func Reload(ctx context.Context, srv *server.Server, path string, st store.Store, log *slog.Logger, now func() time.Time) {
	reload(ctx, srv, nil, path, st, log, now)
}

// reload is Reload that also re-reads the *_file secrets and the TLS
// certificate (lv nil: the policy only). The certificate is reloaded even
// when the config is refused: cert-manager rotates it on its own schedule.
func reload(ctx context.Context, srv *server.Server, lv *live, path string, st store.Store, log *slog.Logger, now func() time.Time) {
	cfg, err := config.Load(path)
	if lv != nil {
		tlsCfg := lv.start.TLS
		if err == nil && cfg.TLS.Enabled() {
			tlsCfg = cfg.TLS
		}
		lv.reloadCert(ctx, tlsCfg.CertFile, tlsCfg.KeyFile, st, log, now)
	}
	if err != nil {
		log.Error("reload refused: keeping the running policy", "err", err)
		_ = st.Append(ctx, audit.Event{Time: now(), Type: audit.TypePolicyRejected, Actor: "server", Reason: err.Error(),
			Detail: map[string]string{"source": path}})
		return
	}
	// The oidc: block is not applied on reload (the CLI's discovery names
	// it): the running one stays beside the reloaded issuers:.
	trusted := *cfg
	if lv != nil {
		trusted.OIDC = lv.start.OIDC
	}
	verifiers, err := issuerVerifiers(ctx, &trusted, now)
	if err != nil {
		log.Error("reload refused: keeping the running policy", "err", err)
		_ = st.Append(ctx, audit.Event{Time: now(), Type: audit.TypePolicyRejected, Actor: "server", Reason: err.Error(),
			Detail: map[string]string{"source": path}})
		return
	}
	if err := srv.Grants().CheckPolicy(ctx, cfg.Policy); err != nil {
		err = fmt.Errorf("%s: %w", path, err)
		log.Error("reload refused: keeping the running policy", "err", err)
		_ = st.Append(ctx, audit.Event{Time: now(), Type: audit.TypePolicyRejected, Actor: "server", Reason: err.Error(),
			Detail: map[string]string{"source": path}})
		return
	}
	for _, w := range cfg.Warnings {
		log.Warn("config warning", "warning", w)
	}
	// Secrets first: the policy.loaded event below is delivered (and
	// signed) with the new ones.
	if lv != nil {
		srv.SetActivitySecret(cfg.Activity.Secret.Reveal())
		if restart := lv.apply(cfg); len(restart) > 0 {
			log.Warn("reload: these settings changed and take effect only after a restart", "settings", restart)
			_ = st.Append(ctx, audit.Event{Time: now(), Type: audit.TypeRestartRequired, Actor: "server",
				Reason: "changed settings take effect only after a restart: " + strings.Join(restart, ", "),
				Detail: map[string]string{"source": path, "settings": strings.Join(restart, ",")}})
		}
		if err := lv.issuers.Swap(verifiers...); err != nil {
			log.Error("reload: issuers not swapped", "err", err)
		}
		log.Info("secrets reloaded")
	}
	if err := srv.SetPolicy(ctx, cfg.Policy, path); err != nil {
		log.Error("reload: audit failed", "err", err)
		return
	}
	log.Info("policy reloaded", "roles", len(cfg.Policy.Roles))
}

// loadCheckpointKey reads audit.signing_key_file (relative to the config
// file), or returns nil when it is not set.
func loadCheckpointKey(cfg *config.Config) (*audit.Key, error) {
	path := cfg.Audit.SigningKeyFile
	if path == "" {
		if cfg.Audit.Anchor.Bucket != "" {
			return nil, exitcode.WithHint(errors.New("audit.anchor needs signed checkpoints"), exitcode.Error, "set audit.signing_key_file (jit server keygen)")
		}
		return nil, nil
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(cfg.Path), path)
	}
	k, err := audit.LoadKey(path)
	if err != nil {
		return nil, exitcode.WithHint(err, exitcode.Error, "make one with: jit server keygen --name HOST --out %s", path)
	}
	return k, nil
}

// startCheckpoints publishes a signed checkpoint every audit.anchor.interval
// while the log grows: into the log (audit.checkpoint events, delivered to
// webhooks) and to the object-lock bucket when audit.anchor.bucket is set.
func startCheckpoints(ctx context.Context, cfg *config.Config, srv *server.Server, st store.Store, log *slog.Logger, now func() time.Time) error {
	a := cfg.Audit.Anchor
	interval := a.Interval.D()
	if interval <= 0 {
		interval = time.Minute
	}
	var anchor *auditanchor.S3
	if a.Bucket != "" {
		var err error
		anchor, err = auditanchor.NewS3(ctx, auditanchor.Config{Bucket: a.Bucket, Prefix: a.Prefix, Region: a.Region, Endpoint: a.Endpoint,
			AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey.Reveal(), RetentionDays: a.RetentionDays, Now: now})
		if err != nil {
			return err
		}
	}
	// One replica publishes at a time: a lease that outlives two ticks.
	holder := fmt.Sprintf("%s-%d-%d", build.Version, os.Getpid(), now().UnixNano())
	lead := func(ctx context.Context) (bool, error) {
		return st.TryLease(ctx, "audit.checkpoint", holder, now(), 2*interval+time.Second)
	}
	go auditanchor.Run(ctx, srv, anchor, interval, lead, log)
	return nil
}
