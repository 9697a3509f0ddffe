// Package server is jit's approval endpoint: it verifies the IdP's tokens,
// applies the policy, moves requests through their lifecycle in the store,
// vends credentials through STS and audits every step. It speaks the JSON
// API in pkg/api under /v1 (docs/api.md).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/metrics"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
	"github.com/jit-access/jit/pkg/vend"
)

// Options are the server's dependencies and settings.
type Options struct {
	Store    store.Store
	Policy   *policy.Policy
	Vendor   vend.Vendor
	Verifier TokenVerifier
	// Discovery is served to clients; ServerTime is filled per call.
	Discovery api.Discovery
	Now       func() time.Time
	Logger    *slog.Logger
	// RequestsPerMinute and RequestBurst limit request creation per user.
	RequestsPerMinute float64
	RequestBurst      int
	// SweepInterval is how often the sweeper looks for due requests [5s].
	// Between sweeps, an ended grant already refuses credentials.
	SweepInterval time.Duration
	// MaxWait caps a long-poll [60s].
	MaxWait time.Duration
	// NewID makes request ids [ULIDs prefixed "req_"].
	NewID func() string
	// SessionCap caps every role's session length (1h when the server itself
	// runs on role credentials: role chaining). 0: no cap.
	SessionCap time.Duration
	// Revoker, when set, makes a revoke stop already-vended credentials at
	// once (an inline Deny on the role), not only at the grant's end.
	Revoker vend.Revoker
	// Routes, when set, adds handlers of other packages (the approver web
	// page, Slack's interactivity endpoint) to the server's mux.
	Routes func(mux *http.ServeMux)
	// SlackLinks, when set, serves /v1/links/slack: `jit link slack`
	// redeems the one-time code `/jit link` showed in Slack.
	SlackLinks SlackLinks
	// Hub wakes waiters on a request when it changes; share one with the
	// web app's live pages (Routes) so both wait the same way. Unset: New
	// makes one.
	Hub *Hub
	// Metrics are other packages' registries served with the server's own
	// at /metrics (notification deliveries).
	Metrics []*metrics.Registry
	// Events is told of every audit event after it is stored (notifications).
	Events func(audit.Event)
	// Grants, when set, is the grants service the API calls (serverapp
	// shares it with Slack and the approver page); then Policy,
	// Vendor, Revoker, SessionCap, NewID, Events and the request rate
	// limits are the service's business and ignored here. Unset: New builds
	// one from them, with the IAM role target over Vendor and Revoker.
	Grants *grants.Service
	// AuthFailuresPerMinute and AuthFailureBurst limit failed
	// authentications per client address [10/min, burst 20]; past them the
	// address's failed tries get 429 with Retry-After (a valid token is
	// always served).
	AuthFailuresPerMinute float64
	AuthFailureBurst      int
	// AuthFailureWindow is how often failed authentications are written to
	// the audit log, as one summary record [1m].
	AuthFailureWindow time.Duration
	// CheckpointKey, when set, signs audit checkpoints: the log's tree head
	// that clients witness (GET /v1/audit/checkpoint).
	CheckpointKey *audit.Key
	// Activity configures activity ingestion and the grant.activity window.
	Activity ActivityOptions
}

// Server is the approval endpoint. Create it with New.
type Server struct {
	opts    Options
	grants  *grants.Service
	hub     *Hub
	metrics *serverMetrics
	log     *slog.Logger
	now     func() time.Time

	// authFails limits and summarises failed authentications.
	authFails *authFailures
	// activitySecret replaces Options.Activity.Secret once set (reload).
	activitySecret atomic.Pointer[string]
	// checkpoints is nil without Options.CheckpointKey.
	checkpoints *checkpointer
	keys        keyCache
}

// New checks the options and builds a server.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || (opts.Policy == nil && opts.Grants == nil) || opts.Verifier == nil {
		return nil, errors.New("server: store, policy and verifier are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 5 * time.Second
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 60 * time.Second
	}
	if opts.RequestsPerMinute <= 0 {
		opts.RequestsPerMinute = 30
	}
	if opts.RequestBurst <= 0 {
		opts.RequestBurst = 10
	}
	if opts.AuthFailuresPerMinute <= 0 {
		opts.AuthFailuresPerMinute = 10
	}
	if opts.AuthFailureBurst <= 0 {
		opts.AuthFailureBurst = 20
	}
	if opts.AuthFailureWindow <= 0 {
		opts.AuthFailureWindow = time.Minute
	}
	if opts.Activity.Window <= 0 {
		opts.Activity.Window = 15 * time.Minute
	}
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now, metrics: newMetrics(opts.Now), grants: opts.Grants}
	if s.grants == nil {
		svc, err := NewGrants(opts)
		if err != nil {
			return nil, err
		}
		s.grants = svc
	}
	s.hub = opts.Hub
	if s.hub == nil {
		s.hub = NewHub()
	}
	s.hub.counted(s.metrics.waiting.Add)
	s.metrics.registry.Include(s.grants.Metrics())
	for _, r := range opts.Metrics {
		s.metrics.registry.Include(r)
	}
	s.authFails = newAuthFailures(opts.AuthFailuresPerMinute, opts.AuthFailureBurst, opts.AuthFailureWindow)
	if opts.CheckpointKey != nil {
		s.checkpoints = &checkpointer{key: opts.CheckpointKey, st: opts.Store}
	}
	return s, nil
}

// NewGrants builds the grants service from a server's options: the IAM
// role target over opts.Vendor and opts.Revoker, the store's activity side.
func NewGrants(opts Options) (*grants.Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	targets, err := target.NewRegistry(awsrole.New(awsrole.Options{Vendor: opts.Vendor, Revoker: opts.Revoker,
		SessionCap: opts.SessionCap, Audit: opts.Store}))
	if err != nil {
		return nil, err
	}
	act, _ := opts.Store.(store.ActivityStore)
	var activity grants.Activity
	if act != nil {
		activity = act
	}
	return grants.New(grants.Options{Store: opts.Store, Activity: activity, ActivityWindow: opts.Activity.Window,
		Policy: opts.Policy, Targets: targets, Events: opts.Events,
		RequestsPerMinute: opts.RequestsPerMinute, RequestBurst: opts.RequestBurst,
		Now: opts.Now, NewID: opts.NewID, Logger: opts.Logger})
}

// Grants is the grants service the server's API calls.
func (s *Server) Grants() *grants.Service { return s.grants }

// Policy returns the policy in force.
func (s *Server) Policy() *policy.Policy { return s.grants.Policy() }

// SetPolicy replaces the policy (SIGHUP reload) and audits the change.
func (s *Server) SetPolicy(ctx context.Context, p *policy.Policy, source string) error {
	return s.grants.SetPolicy(ctx, p, source, map[string]string{"roles": fmt.Sprint(len(p.Roles))})
}

// Run feeds the store's change notifications to waiting clients, runs
// the sweeper and writes failed-authentication summaries until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- s.opts.Store.Listen(ctx, s.hub.Notify) }()
	go func() { errc <- s.sweepLoop(ctx) }()
	go func() { errc <- s.authFailureLoop(ctx) }()
	var first error
	for range 3 {
		if err := <-errc; err != nil && first == nil && ctx.Err() == nil {
			first = err
		}
	}
	return first
}

// BeginShutdown tells waiting clients to come back later (they get 503 and
// retry against another replica or after the restart).
func (s *Server) BeginShutdown() { s.hub.shutdown() }

// append writes audit events that concern no request state through the
// service, which publishes them.
func (s *Server) append(ctx context.Context, events ...audit.Event) error {
	return s.grants.Append(ctx, events...)
}

// actor is u acting through the API.
func actor(u api.User) grants.Actor { return grants.Actor{User: u, Via: grants.ViaAPI} }

// Handler returns the HTTP API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.instrument(pattern, h))
	}
	authed := func(pattern string, h func(http.ResponseWriter, *http.Request, api.User)) {
		route(pattern, s.authenticate(h))
	}
	route("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	route("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metrics.handler())
	route("GET /v1/discovery", s.handleDiscovery)
	authed("GET /v1/whoami", s.handleWhoami)
	authed("GET /v1/roles", s.handleRoles)
	authed("POST /v1/requests", s.handleCreate)
	authed("GET /v1/requests", s.handleList)
	authed("GET /v1/requests/{id}", s.handleGet)
	authed("POST /v1/requests/{id}/approve", s.handleApprove)
	authed("POST /v1/requests/{id}/deny", s.handleDeny)
	authed("POST /v1/requests/{id}/cancel", s.handleCancel)
	authed("POST /v1/requests/{id}/revoke", s.handleRevoke)
	authed("POST /v1/requests/{id}/extend", s.handleExtend)
	authed("POST /v1/requests/{id}/credentials", s.handleCredentials)
	authed("GET /v1/audit", s.handleAudit)
	authed("GET /v1/audit/export", s.handleAuditExport)
	route("GET /v1/audit/key", s.handleAuditKey)
	authed("GET /v1/audit/checkpoint", s.handleAuditCheckpoint)
	authed("GET /v1/audit/proof/inclusion", s.handleAuditInclusion)
	authed("GET /v1/audit/proof/consistency", s.handleAuditConsistency)
	route("POST /v1/activity/minio", s.ingest("minio", s.parseMinIO))
	route("POST /v1/activity/cloudtrail", s.ingest("cloudtrail", s.parseCloudTrail))
	authed("GET /v1/reviews", s.handleReviews)
	authed("GET /v1/requests/{id}/timeline", s.handleTimeline)
	authed("POST /v1/requests/{id}/review", s.handleReview)
	authed("GET /v1/report", s.handleReport)
	authed("GET /v1/links/slack", s.handleSlackLinks)
	authed("POST /v1/links/slack", s.handleSlackLink)
	authed("DELETE /v1/links/slack", s.handleSlackUnlink)
	if s.opts.Routes != nil {
		s.opts.Routes(mux)
	}
	route("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &api.Error{Code: api.CodeNotFound, Message: "no such endpoint: " + r.Method + " " + r.URL.Path,
			Hint: "see docs/api.md"}, http.StatusNotFound)
	})
	return mux
}
