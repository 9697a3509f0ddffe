package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
	"github.com/jit-access/jit/pkg/witness"
)

// The fault suite's load: the cycle of cycle_test.go (create prod-admin,
// approve, fetch credentials) plus the requester's revoke, run closed-loop
// by several clients while a fault is injected. Unlike the throughput
// runs, a client retries each step until it is done, the way jit's CLI and
// a person would, so that every grant it starts is carried to its end and
// the store can be checked against what each client was told.

// faultCycle is what one client knows of one cycle.
type faultCycle struct {
	id        string
	approved  bool     // an approve answered 2xx (or the request was found approved)
	credCalls int      // credentials calls made (answered or not)
	keys      []string // access key ids handed out
	revoked   bool     // a revoke answered 2xx (or it was found revoked)
}

// faultLoad runs the clients and classifies every failed call.
type faultLoad struct {
	r *rig
	// base is the server URL each call goes to (a front, a replica).
	base func(client int) string
	// stepTimeout bounds one call: a call that takes longer is a hang.
	stepTimeout time.Duration
	// giveUp bounds one step's retries (a fault outlasting it fails the test).
	giveUp time.Duration
	// documented reports whether a failed call's error is one of those the
	// fault may cause and a client can act on (a clear error); others are
	// counted as unclear.
	documented func(err error) bool
	// longPoll makes each requester wait for the approval in a long-poll
	// (GET ?wait=), as jit request does, while the approver decides.
	longPoll bool
	waits    atomic.Int64 // long-polls that saw their grant

	mu        sync.Mutex
	cycles    []*faultCycle
	errs      map[string]int    // error class → count
	sample    map[string]string // error class → the first such error, verbatim
	unclear   []string          // up to 10 unclear errors, verbatim
	hangs     int
	stuck     []string // steps that gave up
	firstErr  time.Time
	lastErr   time.Time
	lastOK    atomic.Int64 // unix nanos of the newest successful call
	okCalls   atomic.Int64
	doneCount atomic.Int64
}

func newFaultLoad(r *rig, base func(int) string) *faultLoad {
	return &faultLoad{r: r, base: base, stepTimeout: 45 * time.Second, giveUp: 90 * time.Second,
		documented: documentedFaultError, errs: map[string]int{}, sample: map[string]string{}}
}

// documentedFaultError: 503 unavailable (the store or the server is away;
// retry), 502 vend_failed (STS refused), 429 rate_limited, 409 conflict
// (a retried decision that had landed), and a refused
// or reset connection (the replica is down: a load balancer or the client
// moves on). A 500 "internal" is not a clear error.
func documentedFaultError(err error) bool {
	var he *httpError
	if errors.As(err, &he) {
		var e api.Error
		_ = json.Unmarshal(he.body, &e)
		switch {
		case he.status == http.StatusServiceUnavailable && e.Code == api.CodeUnavailable && e.Message != "":
			return true
		case he.status == http.StatusBadGateway && e.Code == api.CodeVendFailed && e.Message != "":
			return true
		case he.status == http.StatusTooManyRequests && e.Code == api.CodeRateLimited:
			return true
		case he.status == http.StatusConflict && e.Code == api.CodeConflict && e.Message != "":
			// A retried decision after an answer was lost (a 503 on a
			// COMMIT that landed): the client reads the state back.
			return true
		}
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || isEOF(err)
}

func isEOF(err error) bool {
	// A connection the server (or the front) closed with the request in
	// flight: net/http says EOF.
	return err != nil && (strings.HasSuffix(err.Error(), ": EOF") || strings.Contains(err.Error(), "server closed idle connection"))
}

// class names an error for the table: "503 unavailable", "connection refused".
func errClass(err error) string {
	var he *httpError
	if errors.As(err, &he) {
		var e api.Error
		_ = json.Unmarshal(he.body, &e)
		return fmt.Sprintf("%d %s", he.status, e.Code)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer (hang)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case isEOF(err):
		return "connection closed (EOF)"
	}
	return "other"
}

func (l *faultLoad) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.firstErr.IsZero() {
		l.firstErr = now
	}
	l.lastErr = now
	c := errClass(err)
	l.errs[c]++
	if _, ok := l.sample[c]; !ok {
		l.sample[c] = err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		l.hangs++
	}
	if !l.documented(err) && len(l.unclear) < 10 {
		l.unclear = append(l.unclear, err.Error())
	}
}

// call makes one call, bounded by stepTimeout.
func (l *faultLoad) call(ctx context.Context, client int, user, method, path string, body, out any) error {
	cctx, cancel := context.WithTimeout(ctx, l.stepTimeout)
	defer cancel()
	_, err := l.r.call(cctx, l.base(client), user, method, path, body, out)
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("%s %s: %w", method, path, context.DeadlineExceeded)
		}
		l.failed(err)
		return err
	}
	l.okCalls.Add(1)
	l.lastOK.Store(time.Now().UnixNano())
	return nil
}

// step retries do until it reports done, pausing a little between tries.
func (l *faultLoad) step(ctx context.Context, what string, do func() (bool, error)) bool {
	deadline := time.Now().Add(l.giveUp)
	for {
		ok, err := do()
		if ok {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if time.Now().After(deadline) {
			l.mu.Lock()
			l.stuck = append(l.stuck, fmt.Sprintf("%s: %v", what, err))
			l.mu.Unlock()
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// state reads a request's state through the API (after an ambiguous answer).
func (l *faultLoad) state(ctx context.Context, client int, user, id string) (api.State, error) {
	var req api.Request
	if err := l.call(ctx, client, user, "GET", "/v1/requests/"+id, nil, &req); err != nil {
		return "", err
	}
	return req.State, nil
}

// oneCycle runs create → approve → credentials → revoke for one client.
func (l *faultLoad) oneCycle(ctx context.Context, client int) {
	requester := fmt.Sprintf("dev%02d", client%8+1)
	approver := fmt.Sprintf("appr%d", client%3+1)
	var req api.Request
	created := l.step(ctx, "create", func() (bool, error) {
		err := l.call(ctx, client, requester, "POST", "/v1/requests",
			api.CreateRequest{Role: "prod-admin", Reason: "faults", DurationSeconds: 1800}, &req)
		return err == nil, err
	})
	if !created {
		return
	}
	c := &faultCycle{id: req.ID}
	l.mu.Lock()
	l.cycles = append(l.cycles, c)
	l.mu.Unlock()
	var woke chan bool
	if l.longPoll {
		woke = make(chan bool, 1)
		go func() { woke <- l.waitGranted(ctx, client, requester, req) }()
		time.Sleep(100 * time.Millisecond) // the long-poll is parked
	}
	// An approve whose answer was lost may have landed: a conflict is
	// checked against the request's state.
	c.approved = l.step(ctx, "approve "+req.ID, func() (bool, error) {
		err := l.call(ctx, client, approver, "POST", "/v1/requests/"+req.ID+"/approve", api.DecisionBody{Comment: "ok"}, nil)
		if err == nil {
			return true, nil
		}
		if he := (*httpError)(nil); errors.As(err, &he) && he.status == http.StatusConflict {
			st, serr := l.state(ctx, client, requester, req.ID)
			return serr == nil && st.Granted(), err
		}
		return false, err
	})
	if woke != nil && c.approved {
		select {
		case ok := <-woke:
			if ok {
				l.waits.Add(1)
			}
		case <-time.After(l.giveUp):
			l.mu.Lock()
			l.stuck = append(l.stuck, "long-poll of "+req.ID+": never woke after the approval")
			l.mu.Unlock()
		}
	}
	if !c.approved {
		return
	}
	l.step(ctx, "credentials "+req.ID, func() (bool, error) {
		var cr api.Credentials
		c.credCalls++
		err := l.call(ctx, client, requester, "POST", "/v1/requests/"+req.ID+"/credentials", nil, &cr)
		if err == nil {
			c.keys = append(c.keys, cr.AccessKeyID)
		}
		return err == nil, err
	})
	c.revoked = l.step(ctx, "revoke "+req.ID, func() (bool, error) {
		err := l.call(ctx, client, requester, "POST", "/v1/requests/"+req.ID+"/revoke", api.DecisionBody{Comment: "done"}, nil)
		if err == nil {
			return true, nil
		}
		if he := (*httpError)(nil); errors.As(err, &he) && he.status == http.StatusConflict {
			st, serr := l.state(ctx, client, requester, req.ID)
			return serr == nil && st == api.StateRevoked, err
		}
		return false, err
	})
	if c.revoked {
		l.doneCount.Add(1)
	}
}

// waitGranted long-polls the request until it is granted, moving on (a
// new connection, maybe to another replica) after every failed wait.
func (l *faultLoad) waitGranted(ctx context.Context, client int, user string, req api.Request) bool {
	v := req.Version
	return l.step(ctx, "long-poll "+req.ID, func() (bool, error) {
		var cur api.Request
		err := l.call(ctx, client, user, "GET", fmt.Sprintf("/v1/requests/%s?wait=10s&version=%d", req.ID, v), nil, &cur)
		if err != nil {
			return false, err
		}
		v = cur.Version
		return cur.State.Granted() || cur.State.Final(), nil
	})
}

// run drives clients until stop is closed, then lets every cycle in flight
// finish (each step retried within giveUp).
func (l *faultLoad) run(clients int, stop <-chan struct{}) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				l.oneCycle(ctx, i)
			}
		})
	}
	wg.Wait()
}

// waitOK waits until a call succeeds after t (the service is back) and
// returns how long after t that was.
func (l *faultLoad) waitOK(t time.Time, within time.Duration) (time.Duration, bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok := l.lastOK.Load(); ok > t.UnixNano() {
			return time.Unix(0, ok).Sub(t), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, false
}

// errorSummary is the clients' errors for the table, most frequent first.
func (l *faultLoad) errorSummary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return "none"
	}
	var ks []string
	for k := range l.errs {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		return l.errs[ks[i]] > l.errs[ks[j]] || l.errs[ks[i]] == l.errs[ks[j]] && ks[i] < ks[j]
	})
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, l.errs[k]))
	}
	return strings.Join(parts, ", ")
}

// countingVendor counts the credentials each grant was issued (what STS
// was asked to do, answered or not) around another vendor.
type countingVendor struct {
	vend.Vendor
	mu     sync.Mutex
	issued map[string][]string // request id → access key ids issued
}

func newCountingVendor(v vend.Vendor) *countingVendor {
	return &countingVendor{Vendor: v, issued: map[string][]string{}}
}

func (c *countingVendor) Vend(ctx context.Context, in vend.Input, now time.Time) (vend.Credentials, error) {
	cr, err := c.Vendor.Vend(ctx, in, now)
	if err == nil {
		c.mu.Lock()
		c.issued[in.RequestID] = append(c.issued[in.RequestID], cr.AccessKeyID)
		c.mu.Unlock()
	}
	return cr, err
}

// uniqueVendor is fakeVendor with a new access key id on every call, so
// that every vend can be told apart.
type uniqueVendor struct{ n atomic.Int64 }

func (u *uniqueVendor) Vend(_ context.Context, in vend.Input, now time.Time) (vend.Credentials, error) {
	return vend.Credentials{AccessKeyID: fmt.Sprintf("ASIAFAKE%012d", u.n.Add(1)), SecretAccessKey: "fake-" + in.RequestID,
		SessionToken: "fake-token", Expiration: now.Add(time.Hour)}, nil
}

// faultOutcome is what the store and the audit log say after a run.
type faultOutcome struct {
	cycles, finished int
	lostGrants       []string       // approved for a client, then not found granted/revoked in the store
	liveLeft         []string       // grants still live after every client revoked
	doubleVends      []string       // more vends audited than credentials calls made, or a key audited twice
	unaudited        []string       // a key handed out that no credentials.vended record names
	orphans          int            // pending requests no client knows (a create whose answer was lost)
	vends            map[string]int // request id → credentials.vended records
	vendFailed       int            // credentials.vend_failed records
	revokeEnds       map[string]int // request id → revocation_enforced + revocation_failed records
	revokeFailed     int            // revocation_failed records
}

// checkOutcome reads every request and the whole audit log from st and
// holds them against what the clients were told.
func checkOutcome(t *testing.T, st store.Store, l *faultLoad) faultOutcome {
	t.Helper()
	ctx := context.Background()
	out := faultOutcome{cycles: len(l.cycles), finished: int(l.doneCount.Load()), vends: map[string]int{}, revokeEnds: map[string]int{}}
	vended := map[string][]string{} // request id → access keys audited
	approved := map[string]bool{}
	revoked := map[string]bool{}
	var after int64
	for {
		evs, err := st.Audit(ctx, store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatalf("read the audit log: %v", err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			switch e.Type {
			case audit.TypeVended:
				vended[e.RequestID] = append(vended[e.RequestID], e.Detail["access_key_id"])
				out.vends[e.RequestID]++
			case audit.TypeVendFailed:
				out.vendFailed++
			case audit.TypeRevokeEnforced:
				out.revokeEnds[e.RequestID]++
			case audit.TypeRevokeFailed:
				out.revokeEnds[e.RequestID]++
				out.revokeFailed++
			case audit.TypeRequestApproved:
				approved[e.RequestID] = true
			case audit.TypeRevoked:
				revoked[e.RequestID] = true
			}
		}
		after = evs[len(evs)-1].Seq
	}
	known := map[string]*faultCycle{}
	for _, c := range l.cycles {
		known[c.id] = c
		r, err := st.Get(ctx, c.id)
		if err != nil {
			out.lostGrants = append(out.lostGrants, fmt.Sprintf("%s: %v", c.id, err))
			continue
		}
		if c.approved && (!approved[c.id] || (!r.State.Granted() && r.State != api.StateRevoked)) {
			out.lostGrants = append(out.lostGrants, fmt.Sprintf("%s: approved for the client, %s in the store", c.id, r.State))
		}
		if c.revoked && (r.State != api.StateRevoked || !revoked[c.id]) {
			out.lostGrants = append(out.lostGrants, fmt.Sprintf("%s: revoked for the client, %s in the store", c.id, r.State))
		}
		if n := len(vended[c.id]); n > c.credCalls {
			out.doubleVends = append(out.doubleVends, fmt.Sprintf("%s: %d vends audited for %d credentials calls", c.id, n, c.credCalls))
		}
		seen := map[string]int{}
		for _, k := range vended[c.id] {
			seen[k]++
			if seen[k] == 2 {
				out.doubleVends = append(out.doubleVends, fmt.Sprintf("%s: key %s audited twice", c.id, k))
			}
		}
		for _, k := range c.keys {
			if seen[k] == 0 {
				out.unaudited = append(out.unaudited, fmt.Sprintf("%s: key %s", c.id, k))
			}
		}
	}
	cursor := ""
	for {
		rs, next, err := st.List(ctx, store.Filter{Limit: 500, Cursor: cursor})
		if err != nil {
			t.Fatalf("list requests: %v", err)
		}
		for _, r := range rs {
			switch {
			case r.State.Granted():
				out.liveLeft = append(out.liveLeft, fmt.Sprintf("%s (%s)", r.ID, r.State))
			case r.State == api.StatePending && known[r.ID] == nil:
				out.orphans++
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out
}

// assert fails t for every broken property.
func (o faultOutcome) assert(t *testing.T, l *faultLoad) {
	t.Helper()
	if o.cycles == 0 || o.finished == 0 {
		t.Errorf("no cycle finished (%d started): the load did not run", o.cycles)
	}
	for _, what := range []struct {
		name string
		xs   []string
	}{{"lost grants", o.lostGrants}, {"grants left live", o.liveLeft}, {"double vends", o.doubleVends},
		{"credentials handed out unaudited", o.unaudited}, {"steps that never succeeded", l.stuck}, {"unclear errors", l.unclear}} {
		if len(what.xs) > 0 {
			t.Errorf("%s: %d: %s", what.name, len(what.xs), strings.Join(first(what.xs, 5), "; "))
		}
	}
	if l.hangs > 0 {
		t.Errorf("%d calls got no answer within %s", l.hangs, l.stepTimeout)
	}
}

func first(xs []string, n int) []string {
	if len(xs) > n {
		return xs[:n]
	}
	return xs
}

// verifyAudit runs the real binary's `jit audit verify --store DSN` (the
// hash chain and the store's own Merkle tree) and fails t unless it passes.
func verifyAudit(t *testing.T, dsn string) string {
	t.Helper()
	cmd := exec.Command(testenv.JitBinary(t), "audit", "verify", "--store", dsn)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("jit audit verify --store: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// faultWitness is a client's witness of the server's checkpoints: observed
// before the fault and after, the later one must extend the earlier.
type faultWitness struct {
	w      *witness.Witness
	client *apiclient.Client
	url    string
}

func newFaultWitness(t *testing.T, r *rig, url string) *faultWitness {
	t.Helper()
	c, err := apiclient.New(url, r.hc, func(context.Context) (string, error) { return r.tokens["admin"], nil })
	if err != nil {
		t.Fatal(err)
	}
	return &faultWitness{w: &witness.Witness{Dir: filepath.Join(t.TempDir(), "witness")}, client: c, url: url}
}

// observe checks the newest checkpoint against the last one witnessed.
func (w *faultWitness) observe(t *testing.T) *witness.Result {
	t.Helper()
	var res *witness.Result
	var err error
	// The server may still be coming back: retry a few seconds.
	for range 50 {
		if res, err = w.w.Observe(t.Context(), w.url, w.client, ""); err == nil {
			return res
		}
		var inc *witness.InconsistentError
		if errors.As(err, &inc) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("witness: %v", err)
	return res
}
