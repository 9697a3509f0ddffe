// Package history makes a deterministic history of access requests — years
// of them at a steady daily rate, ending at a given time — and writes it to
// a store through the store's own write path, so that growth with history
// can be measured (internal/bench) on a store that looks like one a server
// kept: the same rows, the same audit chain, the same Merkle tree.
//
// The history is a stream of actions in time order (a request is created,
// approved, its credentials are fetched, it expires …), each the lifecycle
// transition the grants service makes for it, written in batches of one
// transaction each (sqlstore.Store.Batch). The same Options give the same
// store, record for record.
package history

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlstore"
)

// Roles the history uses: one that needs an approver, one that is
// auto-approved, one that allows break-glass (whose grants need a review).
type Roles struct{ Approved, Auto, BreakGlass string }

// Options describe a history.
type Options struct {
	// Requests is how many requests the history has.
	Requests int
	// End is the time of the last action written; nothing after it is.
	End time.Time
	// PerDay is the steady rate of requests (default 300): the history
	// starts Requests/PerDay days before End, so a bigger history is a
	// longer one, and the last month looks the same at every size.
	PerDay int
	// Seed picks the random choices (default 1).
	Seed uint64
	// Requesters and Approvers are who asks and who decides (default 200
	// requesters and 10 approvers of an issuer of their own). An approver
	// is never the requester.
	Requesters, Approvers []api.User
	// Roles (default prod-admin, s3-readonly, oncall).
	Roles Roles
	// BatchWrites bounds the writes one transaction holds (default 2,000).
	BatchWrites int
	// Progress, if set, is called after each batch with the requests
	// created so far.
	Progress func(created int)
}

// Stats is what a Seed wrote.
type Stats struct {
	Requests, Writes, Batches int
	Records                   int64 // audit records
	Start, End                time.Time
}

// Batcher is the store a history is written to (sqlstore.Store and the
// SQLite and PostgreSQL stores, which embed it).
type Batcher interface {
	Batch(ctx context.Context, writes []sqlstore.Write) error
	AuditTreeSize(ctx context.Context) (int64, error)
}

// DefaultIssuer is the issuer of the default users.
const DefaultIssuer = "https://idp.history.invalid"

func (o *Options) defaults() error {
	if o.Requests < 0 {
		return fmt.Errorf("requests must be 0 or more, not %d", o.Requests)
	}
	if o.End.IsZero() {
		return errors.New("history: End is not set")
	}
	if o.PerDay <= 0 {
		o.PerDay = 300
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if len(o.Requesters) == 0 {
		o.Requesters = Users("dev", 200, "developers")
	}
	if len(o.Approvers) == 0 {
		o.Approvers = Users("appr", 10, "approvers")
	}
	if o.Roles == (Roles{}) {
		o.Roles = Roles{Approved: "prod-admin", Auto: "s3-readonly", BreakGlass: "oncall"}
	}
	if o.BatchWrites <= 0 {
		o.BatchWrites = 2000
	}
	return nil
}

// Users makes n users prefix000, prefix001 … of DefaultIssuer in group.
func Users(prefix string, n int, group string) []api.User {
	out := make([]api.User, n)
	for i := range out {
		name := fmt.Sprintf("%s%03d", prefix, i)
		out[i] = api.User{Issuer: DefaultIssuer, Subject: "sub-" + name, Username: name + "@example.com",
			Email: name + "@example.com", Name: name, Groups: []string{group}}
	}
	return out
}

// Seed writes the history o describes to st, which should be empty (a
// history appends to whatever is there, and its ids would collide with an
// earlier seed's).
func Seed(ctx context.Context, st Batcher, o Options) (Stats, error) {
	if err := o.defaults(); err != nil {
		return Stats{}, err
	}
	every := 24 * time.Hour / time.Duration(o.PerDay)
	g := &gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6a6974)), every: every}
	g.stats.End = o.End
	g.stats.Start = o.End.Add(-time.Duration(o.Requests) * every)
	next := 0 // the next request to create
	var batch []sqlstore.Write
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.Batch(ctx, batch); err != nil {
			return fmt.Errorf("history: batch %d: %w", g.stats.Batches+1, err)
		}
		g.stats.Batches++
		g.stats.Writes += len(batch)
		batch = batch[:0]
		if o.Progress != nil {
			o.Progress(next)
		}
		return nil
	}
	for {
		var created time.Time
		if next < o.Requests {
			created = g.stats.Start.Add(time.Duration(next) * every)
		}
		// Whichever comes first: the next creation or a live request's
		// next action (a creation first on a tie).
		if next < o.Requests && (len(g.due) == 0 || !g.due[0].at.Before(created)) {
			batch = append(batch, g.create(next, created)...)
			next++
		} else if len(g.due) > 0 && !g.due[0].at.After(o.End) {
			a := heap.Pop(&g.due).(*action)
			batch = append(batch, a.do()...)
		} else {
			break
		}
		if len(batch) >= o.BatchWrites {
			if err := flush(); err != nil {
				return g.stats, err
			}
		}
		if err := ctx.Err(); err != nil {
			return g.stats, err
		}
	}
	if err := flush(); err != nil {
		return g.stats, err
	}
	n, err := st.AuditTreeSize(ctx)
	g.stats.Records = n
	return g.stats, err
}

// gen is a history being made.
type gen struct {
	o     Options
	rng   *rand.Rand
	every time.Duration
	due   actions
	order int64 // tie-break: actions at one time run in the order planned
	stats Stats
}

// action is one planned step of a live request.
type action struct {
	at    time.Time
	order int64
	do    func() []sqlstore.Write
}

type actions []*action

func (a actions) Len() int { return len(a) }
func (a actions) Less(i, j int) bool {
	if !a[i].at.Equal(a[j].at) {
		return a[i].at.Before(a[j].at)
	}
	return a[i].order < a[j].order
}
func (a actions) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *actions) Push(x any)   { *a = append(*a, x.(*action)) }
func (a *actions) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

func (g *gen) plan(at time.Time, do func() []sqlstore.Write) {
	g.order++
	heap.Push(&g.due, &action{at: at, order: g.order, do: do})
}

// id is a request id as the server makes them (a ULID of the creation time,
// prefixed "req_"), its randomness drawn from the history's.
func (g *gen) id(at time.Time) string {
	var entropy [10]byte
	for i := range entropy {
		entropy[i] = byte(g.rng.UintN(256))
	}
	u, err := ulid.New(ulid.Timestamp(at), bytesReader(entropy[:]))
	if err != nil {
		panic(err) // 10 bytes of entropy always suffice
	}
	return "req_" + strings.ToLower(u.String())
}

type bytesReader []byte

func (b bytesReader) Read(p []byte) (int, error) { return copy(p, b), nil }

// The mix of what happens to a request, in percent.
const (
	pctDenied     = 5
	pctCancelled  = 3
	pctTimedOut   = 4
	pctRevoked    = 5
	pctAuto       = 12
	pctBreakGlass = 2
)

// create plans request i, created at t, and returns its creation's writes.
func (g *gen) create(i int, t time.Time) []sqlstore.Write {
	o := g.o
	t = t.Add(time.Duration(g.rng.Int64N(int64(g.every) / 2))).UTC()
	u := o.Requesters[g.rng.IntN(len(o.Requesters))]
	appr := o.Approvers[g.rng.IntN(len(o.Approvers))]
	hours := []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}[g.rng.IntN(4)]
	in := lifecycle.NewInput{ID: g.id(t), Requester: u.ID(), RequesterUser: u,
		Create:   api.CreateRequest{Role: o.Roles.Approved, Reason: fmt.Sprintf("change %d", i), DurationSeconds: int64(hours / time.Second)},
		Duration: hours, ApprovalsNeeded: 1, PendingTimeout: time.Hour}
	kind := g.rng.IntN(100)
	switch {
	case kind < pctAuto:
		in.Create.Role, in.AutoApproved, in.ApprovalsNeeded, in.Why = o.Roles.Auto, true, 0, "auto_approve matches developers"
	case kind < pctAuto+pctBreakGlass:
		in.Create.Role, in.BreakGlass, in.ApprovalsNeeded = o.Roles.BreakGlass, true, 0
		in.Duration, in.Create.DurationSeconds = 30*time.Minute, 1800
		in.Create.Reason = fmt.Sprintf("incident %d", i)
	}
	r, events := lifecycle.New(in, t)
	events = lifecycle.Stamp(events, u)
	r.ReviewRequired = in.BreakGlass
	g.stats.Requests++
	id := r.ID
	writes := []sqlstore.Write{sqlstore.CreateWrite(r, events)}
	decide := t.Add(2*time.Minute + time.Duration(g.rng.Int64N(int64(20*time.Minute))))
	switch {
	case in.AutoApproved || in.BreakGlass:
		g.planGrant(id, in.Create.Role, u, appr, t, t.Add(in.Duration), in.BreakGlass, false)
	case kind < pctAuto+pctBreakGlass+pctDenied:
		g.plan(decide, g.mutate(id, func(r *api.Request, at time.Time) ([]audit.Event, error) {
			return lifecycle.Deny(r, appr, "not now", at)
		}, decide))
	case kind < pctAuto+pctBreakGlass+pctDenied+pctCancelled:
		g.plan(decide, g.mutate(id, func(r *api.Request, at time.Time) ([]audit.Event, error) {
			return lifecycle.Cancel(r, u.ID(), "not needed", at)
		}, decide))
	case kind < pctAuto+pctBreakGlass+pctDenied+pctCancelled+pctTimedOut:
		g.planSweep(id, r.PendingUntil)
	default:
		revoke := kind < pctAuto+pctBreakGlass+pctDenied+pctCancelled+pctTimedOut+pctRevoked
		g.plan(decide, func() []sqlstore.Write {
			g.planGrant(id, in.Create.Role, u, appr, decide, decide.Add(hours), false, revoke)
			return []sqlstore.Write{sqlstore.UpdateWrite(id, func(r *api.Request) ([]audit.Event, error) {
				return lifecycle.Approve(r, appr, "ok", decide)
			})}
		})
	}
	return writes
}

// planGrant plans a live grant's steps from start to end: credentials
// fetched at once and every 40 minutes, then its end (by the sweeper, or a
// revocation half-way), then a review a day later for break-glass.
func (g *gen) planGrant(id, role string, u, appr api.User, start, end time.Time, review, revoke bool) {
	ends := end
	if revoke {
		ends = start.Add(end.Sub(start) / 2)
	}
	for at := start.Add(30 * time.Second); at.Before(ends); at = at.Add(40 * time.Minute) {
		key := g.accessKey()
		g.plan(at, func() []sqlstore.Write {
			return []sqlstore.Write{
				sqlstore.RememberKeyWrite(store.KeyGrant{AccessKeyID: key, RequestID: id, Requester: u.ID(), Role: role}, at),
				sqlstore.UpdateWrite(id, func(r *api.Request) ([]audit.Event, error) {
					return lifecycle.Stamp(must(lifecycle.Vended(r, u.ID(), key, at.Add(time.Hour), at)), u), nil
				}),
			}
		})
	}
	if revoke {
		g.plan(ends, g.mutate(id, func(r *api.Request, at time.Time) ([]audit.Event, error) {
			evs, err := lifecycle.Revoke(r, appr.ID(), "done early", at)
			return lifecycle.Stamp(evs, appr), err
		}, ends))
	} else {
		g.planSweep(id, end)
	}
	if review {
		at := start.Add(24*time.Hour + time.Duration(g.rng.Int64N(int64(2*time.Hour))))
		g.plan(at, g.mutate(id, func(r *api.Request, at time.Time) ([]audit.Event, error) {
			evs, err := lifecycle.Review(r, appr.ID(), api.VerdictOK, "", at)
			return lifecycle.Stamp(evs, appr), err
		}, at))
	}
}

// planSweep plans the sweeper's visit (a second late, as a sweep would be).
func (g *gen) planSweep(id string, due time.Time) {
	at := due.Add(time.Second)
	g.plan(at, g.mutate(id, lifecycle.Sweep, at))
}

// mutate is the write applying f to request id at at.
func (g *gen) mutate(id string, f func(*api.Request, time.Time) ([]audit.Event, error), at time.Time) func() []sqlstore.Write {
	return func() []sqlstore.Write {
		return []sqlstore.Write{sqlstore.UpdateWrite(id, func(r *api.Request) ([]audit.Event, error) { return f(r, at) })}
	}
}

// accessKey is an STS-shaped access key id.
func (g *gen) accessKey() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [16]byte
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return "ASIA" + string(b[:])
}

// must panics on a lifecycle error, which the store turns into the write's
// error: a planned step that the lifecycle refuses is a bug in the plan.
func must(evs []audit.Event, err error) []audit.Event {
	if err != nil {
		panic(err)
	}
	return evs
}
