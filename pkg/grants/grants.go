// Package grants is jit's one core: every state change of a request and its
// grant goes through a Service — create (with the policy), approve and deny
// (a request or its waiting extension), extend, cancel, revoke (with the
// target's early end), credentials, review, and the sweeper's time-outs,
// expiries and idle ends. The doors (the HTTP API in pkg/server, Slack's
// buttons in pkg/notify, the approver page in pkg/webapp, the sweeper
// loop) authenticate and translate; they call the Service and nothing else
// changes state. A test (TestOnlyGrantsChangesRequestState) fails when
// another package calls the store's Update or a lifecycle transition.
//
// Each method takes the acting Actor (a verified api.User and the door it
// came through) and returns typed errors that carry a hint: policy.DeniedError,
// policy.InvalidError, policy.ConflictError, lifecycle.TransitionError,
// store.ErrNotFound, *api.Error (rate limited, unavailable) and *vend.Error.
// Every stored event is published in one place (metrics, Options.Events).
package grants

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/metrics"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
)

// Requests is the store's request side the service writes through.
type Requests interface {
	Create(ctx context.Context, r *api.Request, events []audit.Event) error
	Get(ctx context.Context, id string) (*api.Request, error)
	Update(ctx context.Context, id string, m store.Mutation) (*api.Request, error)
	List(ctx context.Context, f store.Filter) ([]api.Request, string, error)
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// AuditLog is the store's audit side.
type AuditLog interface {
	Append(ctx context.Context, events ...audit.Event) error
	Audit(ctx context.Context, f store.AuditFilter) ([]api.AuditEvent, error)
}

// Leader runs the sweep on one replica at a time.
type Leader interface {
	TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error)
}

// Store is what the service needs of a store; store.Store satisfies it.
type Store interface {
	Requests
	AuditLog
	Leader
}

// Activity is the store's activity side the service uses: the key → grant
// record of a vend, the aggregates idle ends read, the flush of windows.
type Activity interface {
	RememberKey(ctx context.Context, k store.KeyGrant, at time.Time) error
	Activity(ctx context.Context, requestIDs ...string) (map[string]api.Activity, error)
	FlushActivity(ctx context.Context, now, startedBefore, forgetBefore time.Time, ended ...string) (int, error)
}

// The doors, recorded as the "via" detail of the events an actor makes.
const (
	ViaAPI     = "api"
	ViaSlack   = "slack"
	ViaWeb     = "web"
	ViaSweeper = "sweeper"
)

// DetailVia is the audit detail key naming the door a change came through.
const DetailVia = "via"

// Actor is who acts and through which door.
type Actor struct {
	User api.User
	Via  string
}

// Options are the service's dependencies.
type Options struct {
	Store Store
	// Activity, when set, records vended keys, feeds idle ends and is
	// flushed into grant.activity records.
	Activity Activity
	// ActivityWindow is how often a grant's calls become one record [15m].
	ActivityWindow time.Duration
	Policy         *policy.Policy
	Targets        *target.Registry
	// Managers names requesters' managers for roles whose approvers
	// include manager_of_requester (nil: no source; such requests are
	// refused or wait for the other approvers, audited).
	Managers ManagerSource
	// Events is told of every audit event after it is stored (notifications).
	Events func(audit.Event)
	// RequestsPerMinute and RequestBurst limit request creation per
	// principal [30, 10].
	RequestsPerMinute float64
	RequestBurst      int
	// ReconcileEvery is how often the sweep reconciles targets that
	// create something (Reconcile) [DefaultReconcileEvery].
	ReconcileEvery time.Duration
	Now            func() time.Time
	NewID          func() string // [ULIDs prefixed "req_"]
	Logger         *slog.Logger
}

// Service owns every state change of requests and grants.
type Service struct {
	o       Options
	st      Store
	policy  atomic.Pointer[policy.Policy]
	limiter *limiter
	metrics *serviceMetrics
	log     *slog.Logger
	// lastReconcile is when the sweep last reconciled (nil: never).
	lastReconcile atomic.Pointer[time.Time]
	now           func() time.Time
}

// New checks the options and builds the service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Policy == nil || o.Targets == nil {
		return nil, errors.New("grants: store, policy and targets are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NewID == nil {
		o.NewID = func() string { return "req_" + strings.ToLower(ulid.MustNew(ulid.Now(), rand.Reader).String()) }
	}
	if o.RequestsPerMinute <= 0 {
		o.RequestsPerMinute = 30
	}
	if o.RequestBurst <= 0 {
		o.RequestBurst = 10
	}
	if o.ReconcileEvery <= 0 {
		o.ReconcileEvery = DefaultReconcileEvery
	}
	if o.ActivityWindow <= 0 {
		o.ActivityWindow = 15 * time.Minute
	}
	s := &Service{o: o, st: o.Store, log: o.Logger, now: o.Now, metrics: newMetrics(),
		limiter: newLimiter(o.RequestsPerMinute, o.RequestBurst)}
	s.policy.Store(o.Policy)
	return s, nil
}

// Policy returns the policy in force.
func (s *Service) Policy() *policy.Policy { return s.policy.Load() }

// SetPolicy puts p in force (a reload) and audits it; the caller checked
// it (CheckPolicy). Live grants whose role p moves to another target (or
// drops) keep acting where they started (api.Request.Target): the reload
// is not refused, but the policy.loaded record and the log name them,
// so that an admin revokes them if the move was meant to end them.
func (s *Service) SetPolicy(ctx context.Context, p *policy.Policy, source string, detail map[string]string) error {
	moved, err := s.movedGrants(ctx, p)
	if err != nil {
		s.log.Warn("reload: could not list the live grants it moves", "err", err)
	}
	s.policy.Store(p)
	d := map[string]string{"source": source}
	for k, v := range detail {
		d[k] = v
	}
	if len(moved) > 0 {
		d["moved_grants"] = strings.Join(moved, ",")
		s.log.Warn("reload moves or drops the target of roles with live grants: those grants keep their access where it started until they end; revoke them to end it now (jit revoke ID)",
			"grants", moved)
	}
	return s.Append(ctx, audit.Event{Time: s.now(), Type: audit.TypePolicyLoaded, Actor: "server", Detail: d})
}

// movedGrants lists the live grants whose recorded target p's role of
// theirs no longer names (or whose role p drops), as "id (role)".
func (s *Service) movedGrants(ctx context.Context, p *policy.Policy) ([]string, error) {
	var moved []string
	err := s.liveGrants(ctx, nil, func(r *api.Request) {
		role, _ := p.Role(r.Role)
		if policy.Moved(r.Target, role) {
			moved = append(moved, r.ID+" ("+r.Role+")")
		}
	})
	return moved, err
}

// liveGrants calls fn with each live grant of roles (nil: every role).
func (s *Service) liveGrants(ctx context.Context, roles []string, fn func(r *api.Request)) error {
	now := s.now()
	f := store.Filter{Roles: roles, States: []api.State{api.StateApproved, api.StateActive}, EndsAtOrAfter: now, Limit: 500}
	for page := 0; page < 20; page++ {
		reqs, next, err := s.st.List(ctx, f)
		if err != nil {
			return err
		}
		for i := range reqs {
			if now.Before(reqs[i].EndsAt) {
				fn(&reqs[i])
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
	return nil
}

// CheckPolicy asks each target to check p's roles of its kind (start and
// reload), and refuses roles of a kind this server has no target for.
func (s *Service) CheckPolicy(ctx context.Context, p *policy.Policy) error {
	return s.o.Targets.Check(ctx, p)
}

// Targets is the service's registry of targets.
func (s *Service) Targets() *target.Registry { return s.o.Targets }

// Metrics is the service's registry (transitions, vends, sweep lags); the
// server serves it with its own.
func (s *Service) Metrics() *metrics.Registry { return s.metrics.registry }

// Append writes audit events that concern no request state (a refusal, a
// failed authentication, a policy load) and publishes them.
func (s *Service) Append(ctx context.Context, events ...audit.Event) error {
	if err := s.st.Append(ctx, events...); err != nil {
		return err
	}
	s.published(events)
	return nil
}

// published is the one place stored events are counted and announced.
func (s *Service) published(events []audit.Event) {
	for _, e := range events {
		s.metrics.transitions.With(e.Type).Inc()
		if s.o.Events != nil {
			s.o.Events(e)
		}
	}
}

// update runs a lifecycle mutation in the store, stamps its events with
// the actor and publishes them.
func (s *Service) update(ctx context.Context, a Actor, id string, m func(r *api.Request) ([]audit.Event, error)) (*api.Request, error) {
	var events []audit.Event
	r, err := s.st.Update(ctx, id, func(r *api.Request) ([]audit.Event, error) {
		ev, err := m(r)
		events = stamp(ev, a)
		return events, err
	})
	if err != nil {
		return nil, err
	}
	s.published(events)
	return r, nil
}

// stamp records the actor's principal on the events it made and the door
// on every event of the change.
func stamp(events []audit.Event, a Actor) []audit.Event {
	events = lifecycle.Stamp(events, a.User)
	if a.Via == "" {
		return events
	}
	for i := range events {
		if events[i].Detail == nil {
			events[i].Detail = map[string]string{}
		}
		events[i].Detail[DetailVia] = a.Via
	}
	return events
}

// grantOf is the grant req is, with its role and target: the role's
// target as the grant recorded it when it started (api.Request.Target), so
// that a reload that moved or dropped the role changes nowhere the grant
// acts.
func (s *Service) grantOf(req *api.Request, by api.User) (target.Grant, target.Target, error) {
	current, _ := s.Policy().Role(req.Role)
	role, err := policy.StartedRole(current, req.Role, req.Target)
	if err != nil {
		return target.Grant{}, nil, err
	}
	t, err := s.o.Targets.For(role)
	if err != nil {
		return target.Grant{}, nil, err
	}
	name := by.ID()
	if name == "" {
		name = "server"
	}
	return target.Grant{Request: req, Role: role, By: name, User: by}, t, nil
}

// recordTarget records on req, in the write that makes it a grant, where
// its access is given: the role's target in p.
func recordTarget(p *policy.Policy, req *api.Request) error {
	if !req.State.Granted() || req.Target != nil {
		return nil
	}
	role, ok := p.Role(req.Role)
	if !ok {
		return &policy.ConflictError{Reason: "role " + req.Role + " is no longer in the policy",
			Hint: "ask an admin whether it was renamed: jit roles"}
	}
	req.Target = role.Recorded()
	return nil
}

// started tells the target that req's grant began, when it did. Start
// runs outside the store's transaction, so a revoke (or the end) can be
// stored and carried out at the target while it runs: the request is read
// again before Start (nothing starts for a grant that already ended) and
// after it, and a grant that ended meanwhile is ended at the target again,
// so a revoke never loses to a concurrent approval or reconcile.
func (s *Service) started(ctx context.Context, req *api.Request, by api.User) {
	if !req.State.Granted() {
		return
	}
	g, t, err := s.grantOf(req, by)
	if err == nil {
		var live bool
		if g.Request, live, err = s.stillLive(ctx, req.ID); err != nil || !live {
			if err == nil {
				s.log.Info("access not started: the grant ended first", "id", req.ID, "state", g.Request.State)
			}
			return
		}
		var issued target.Issued
		issued, err = t.Start(ctx, g, s.now())
		if err == nil {
			s.endIfEndedMeanwhile(ctx, req.ID)
		}
		if err == nil && issued.ID == "" {
			return
		}
		if err == nil {
			d := map[string]string{"kind": t.Kind(), "id": issued.ID}
			for k, v := range issued.Detail {
				d[k] = v
			}
			_ = s.Append(ctx, audit.Event{Time: s.now(), Type: audit.TypeAccessGranted, Actor: "server", Subject: req.Requester,
				Role: req.Role, RequestID: req.ID, Detail: d})
			return
		}
	}
	s.log.Error("access not granted at the target", "id", req.ID, "role", req.Role, "err", err)
	_ = s.Append(ctx, audit.Event{Time: s.now(), Type: audit.TypeAccessFailed, Actor: "server", Subject: req.Requester,
		Role: req.Role, RequestID: req.ID, Reason: err.Error()})
}

// stillLive reads the request id again and reports whether its grant is
// live now.
func (s *Service) stillLive(ctx context.Context, id string) (*api.Request, bool, error) {
	cur, err := s.st.Get(ctx, id)
	if err != nil {
		return nil, false, err
	}
	return cur, cur.State.Granted() && s.now().Before(cur.EndsAt), nil
}

// endIfEndedMeanwhile ends at the target a grant whose end (a revoke, an
// idle end, its time) was stored while its Start ran: that end's own call
// to the target may have run before Start created anything.
func (s *Service) endIfEndedMeanwhile(ctx context.Context, id string) {
	cur, live, err := s.stillLive(context.WithoutCancel(ctx), id)
	if err != nil || live {
		return
	}
	s.log.Warn("the grant ended while its access started: ending it at the target again", "id", id, "state", cur.State)
	s.ended(context.WithoutCancel(ctx), cur, cur.State != api.StateExpired && !cur.State.Granted())
}

// ended tells the target that req's grant ended (early: revoked, idle) and
// audits what it did; the end itself is already stored, so a failure here
// is audited and logged, and the grant still ends at the target's
// AccessUntil.
func (s *Service) ended(ctx context.Context, req *api.Request, early bool) {
	now := req.UpdatedAt
	g, t, err := s.grantOf(req, api.User{})
	if err != nil {
		// Nowhere to end it: say so, as a failed end, so that nobody
		// reads the revoke as enforced.
		s.log.Error("revocation not enforced: no target to end the grant at", "id", req.ID, "role", req.Role, "err", err)
		_ = s.Append(ctx, audit.Event{Time: now, Type: audit.TypeRevokeFailed, Actor: "server", Subject: req.Requester, Role: req.Role,
			RequestID: req.ID, Reason: err.Error()})
		return
	}
	res, err := t.End(ctx, g, early, now)
	if err == nil && !res.Done {
		return
	}
	ev := audit.Event{Time: now, Type: audit.TypeRevokeEnforced, Actor: "server", Subject: req.Requester, Role: req.Role,
		RequestID: req.ID, Detail: res.Detail}
	if err != nil {
		s.log.Error("revocation not enforced at the target", "id", req.ID, "kind", t.Kind(), "err", err)
		ev.Type, ev.Reason = audit.TypeRevokeFailed, err.Error()
	}
	_ = s.Append(ctx, ev)
}
