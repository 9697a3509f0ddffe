package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeiam"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
	"github.com/jit-access/jit/pkg/vend"
)

// faultRow is one line of docs/benchmarks.md's fault table.
type faultRow struct {
	fault, load, errors, recovery, result string
}

// faultPlan sizes a fault run: the short one runs in `make test`, the long
// one in `make bench` (JIT_BENCH=1).
type faultPlan struct {
	clients             int
	before, down, after time.Duration
}

func planFor() (faultPlan, bool) {
	if os.Getenv("JIT_BENCH") == "1" && os.Getenv("JIT_BENCH_QUICK") != "1" {
		return faultPlan{clients: 16, before: 5 * time.Second, down: 5 * time.Second, after: 5 * time.Second}, true
	}
	return faultPlan{clients: 6, before: 1500 * time.Millisecond, down: time.Second, after: 1500 * time.Millisecond}, false
}

func (p faultPlan) load() string {
	return fmt.Sprintf("%d clients, closed loop (create → approve → credentials → revoke), %s before the fault, %s after",
		p.clients, p.before, p.after)
}

// newFaultRig is the rig without MinIO: the OIDC provider and logged-in
// users (each fault case starts the peers it breaks).
func newFaultRig(t *testing.T, users []devidp.User) *rig {
	t.Helper()
	r := &rig{idp: testenv.OIDC(t, users...)}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 256
	r.hc = &http.Client{Transport: tr, Timeout: 90 * time.Second}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	r.tokens = testenv.IDTokens(t, r.idp, names...)
	return r
}

func checkpointKey(t *testing.T) *audit.Key {
	t.Helper()
	skey, _, err := audit.GenerateKey("jit-faults")
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openDSN(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := storeopen.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open %s: %v", dsn, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestFaultsUnderLoad breaks one peer at a time while clients cycle grants,
// then checks from the store and the audit log that no grant was lost, no
// credentials were vended twice or handed out unaudited, every client got
// an answer or a documented error, and that `jit audit verify` and a
// witness pass. Short runs here (make test); JIT_BENCH=1 runs them longer
// and writes the table into docs/benchmarks.md.
func TestFaultsUnderLoad(t *testing.T) {
	plan, long := planFor()
	r := newFaultRig(t, benchUsers(8, 3))
	var rows []faultRow

	t.Run("postgres-restart", func(t *testing.T) {
		pg := testenv.StartPostgres(t)
		for _, mode := range []string{"fast", "immediate"} {
			t.Run(mode, func(t *testing.T) {
				rows = append(rows, r.postgresRestart(t, plan, pg, mode))
			})
		}
	})

	for _, mode := range []string{"killed", "blackholed"} {
		t.Run("network-"+mode, func(t *testing.T) {
			rows = append(rows, r.networkCut(t, plan, mode))
		})
	}
	t.Run("replica-kill", func(t *testing.T) {
		rows = append(rows, r.replicaKill(t, plan))
	})
	t.Run("sqlite-disk-full", func(t *testing.T) {
		rows = append(rows, r.sqliteDiskFull(t, plan))
	})
	t.Run("sts-5xx-throttling", func(t *testing.T) {
		rows = append(rows, r.stsFaults(t, plan))
	})
	t.Run("iam-throttling", func(t *testing.T) {
		rows = append(rows, r.iamThrottling(t, plan))
	})
	t.Run("jwks-down-during-rotation", func(t *testing.T) { // last: it rotates the IdP's key
		rows = append(rows, r.jwksRotation(t, plan))
	})

	if long {
		writeFaultSection(t, plan, rows)
	}
}

// faultCase is one fault run: a server with a checkpoint key, a witness
// of its log, the load, and what the store and audit log say afterwards.
type faultCase struct {
	plan   faultPlan
	st     store.Store
	dsn    string // what jit audit verify --store reads
	base   string
	vendor *countingVendor // nil when the server runs in another process
	w      *faultWitness
	l      *faultLoad
}

// serveFaultCase starts a jit server on st (o's vendor, uniqueVendor by
// default, counted) that signs checkpoints, and a witness of it.
func (r *rig) serveFaultCase(t *testing.T, plan faultPlan, st store.Store, dsn string, o serverOpts) *faultCase {
	t.Helper()
	if o.vendor == nil {
		o.vendor = &uniqueVendor{}
	}
	cv := newCountingVendor(o.vendor)
	key := checkpointKey(t)
	tweak := o.tweak
	o.store, o.vendor = st, cv
	o.tweak = func(so *server.Options) {
		so.CheckpointKey = key
		if tweak != nil {
			tweak(so)
		}
	}
	c := r.faultCaseAt(t, plan, st, dsn, r.startServer(t, o))
	c.vendor = cv
	return c
}

// faultCaseAt is a fault run against the server at base.
func (r *rig) faultCaseAt(t *testing.T, plan faultPlan, st store.Store, dsn, base string) *faultCase {
	t.Helper()
	c := &faultCase{plan: plan, st: st, dsn: dsn, base: base, w: newFaultWitness(t, r, base)}
	c.w.observe(t)
	c.l = newFaultLoad(r, func(int) string { return base })
	return c
}

// run drives the load; after plan.before it breaks the peer, holds it
// broken (hold, or plan.down when nil), heals it and drives plan.after
// more. It returns the recovery time: from the heal to the first
// successful call.
func (c *faultCase) run(t *testing.T, breakIt, hold, heal func()) time.Duration {
	t.Helper()
	stop := make(chan struct{})
	ran := make(chan struct{})
	go func() { c.l.run(c.plan.clients, stop); close(ran) }()
	time.Sleep(c.plan.before)
	breakIt()
	if hold == nil {
		hold = func() { time.Sleep(c.plan.down) }
	}
	hold()
	heal()
	rec, ok := c.l.waitOK(time.Now(), 60*time.Second)
	time.Sleep(c.plan.after)
	close(stop)
	<-ran
	if !ok {
		t.Errorf("no call succeeded within 60s of the fault's end")
	}
	return rec
}

// check holds the store and the audit log against what the clients were
// told, runs jit audit verify --store and the witness, and logs the run.
func (c *faultCase) check(t *testing.T, rec time.Duration) faultOutcome {
	t.Helper()
	out := checkOutcome(t, c.st, c.l)
	out.assert(t, c.l)
	verifyAudit(t, c.dsn)
	c.w.observe(t)
	t.Logf("%d cycles (%d finished), errors: %s; first success %s after the fault ended; orphaned pending requests: %d",
		out.cycles, out.finished, c.l.errorSummary(), rec.Round(time.Millisecond), out.orphans)
	return out
}

// row is the case's line of the table.
func (c *faultCase) row(t *testing.T, fault string, rec time.Duration, out faultOutcome) faultRow {
	return faultRow{fault: fault, load: c.plan.load(), errors: c.l.errorSummary(),
		recovery: rec.Round(10 * time.Millisecond).String(), result: out.result(t)}
}

// postgresRestart: a PostgreSQL of the test's own is stopped (fast or
// immediate shutdown) mid-burst and started again after plan.down.
func (r *rig) postgresRestart(t *testing.T, plan faultPlan, pg *testenv.PostgresServer, mode string) faultRow {
	dsn := pg.CreateDatabase(t, "jit_"+mode)
	c := r.serveFaultCase(t, plan, openDSN(t, dsn), dsn, serverOpts{})
	rec := c.run(t, func() {
		if err := pg.Stop(mode); err != nil {
			t.Fatal(err)
		}
	}, nil, func() {
		if err := pg.Start(); err != nil {
			t.Fatal(err)
		}
	})
	out := c.check(t, rec)
	return c.row(t, fmt.Sprintf("PostgreSQL stopped (%s shutdown) for %s, then started", mode, plan.down), rec, out)
}

// result is the table's last column: what held (or, when t failed, that
// it did not).
func (o faultOutcome) result(t *testing.T) string {
	verdict := "pass"
	if t.Failed() {
		verdict = "**FAIL**"
	}
	s := fmt.Sprintf("%s: %d cycles, %d lost grants, %d double vends, %d unaudited keys, audit verify and witness ok", verdict,
		o.cycles, len(o.lostGrants), len(o.doubleVends), len(o.unaudited))
	if o.orphans > 0 {
		s += fmt.Sprintf("; %d pending requests whose create answer was lost", o.orphans)
	}
	return s
}

// writeFaultSection splices the table into docs/benchmarks.md.
func writeFaultSection(t *testing.T, plan faultPlan, rows []faultRow) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "## Faults under load (measured %s UTC)\n\n", time.Now().UTC().Format("2006-01-02 15:04"))
	cpu, kernel, load := machine()
	fmt.Fprintf(&b, "Machine: %s, %s; load average at the end: %s.\n\n", cpu, kernel, load)
	b.WriteString("Each case runs the cycle of section 2 plus the requester's revoke (create prod-admin → approve → credentials → revoke), " +
		"closed loop, while one peer is broken; each client retries a failed step until it succeeds, as the CLI and a person would. " +
		"Afterwards the store and the audit log are held against what each client was told: every grant a client saw approved is " +
		"in the store and ended revoked, no grant is left live, no grant has more vends audited than credentials calls made, every " +
		"key handed out is audited exactly once, every failed call got a documented error (503 unavailable, 502 vend_failed, a refused " +
		"or reset connection) within 45 s, `jit audit verify --store` passes and a witness's checkpoint after the fault extends the one before. " +
		"Recovery is from the fault's end to the first successful call.\n\n")
	b.WriteString("| fault | load | errors seen by clients | recovery | result |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", r.fault, r.load, r.errors, r.recovery, r.result)
	}
	b.WriteString("\nReproduce: `make bench` (section \"faults\"), or the short versions: `go test -run TestFaultsUnderLoad ./internal/bench` (part of `make test`).\n\n")
	spliceIntoBenchmarks(t, "## Faults under load", b.String())
}

// smallDisk mounts a tmpfs of size bytes for the test (root only) and
// unmounts it when the test ends. Without root the test is skipped, saying
// why; under CI (which runs as root) it must run, so it fails instead.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		const why = "mounting a small filesystem (tmpfs, size=) needs root; CI runs as root"
		if testenv.InCI(os.Getenv) {
			t.Fatalf("%s, and CI must run this test", why)
		}
		t.Skip(why)
	}
	dir, err := os.MkdirTemp("", "jit-disk-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v\n%s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
		os.Remove(dir)
	})
	return dir
}

// fillDisk writes a ballast file in dir until the filesystem is full and
// returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "ballast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatal(err)
		}
	}
	// Down to the last byte: a short write fills what a 64 KiB one did not.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			break
		}
	}
	return path
}

// sqliteDiskFull: the SQLite file's filesystem fills up mid-burst, then
// space returns. Writes must fail with a clear error, reads go on, and
// afterwards the file passes integrity_check and the audit log verifies.
func (r *rig) sqliteDiskFull(t *testing.T, plan faultPlan) faultRow {
	dir := smallDisk(t, 256<<20)
	path := filepath.Join(dir, "jit.db")
	c := r.serveFaultCase(t, plan, openDSN(t, "sqlite://"+path), path, serverOpts{})
	var ballast string
	var reads, readErrs int
	var readErr error
	hold := func() {
		// Reads while the disk is full: an admin's list and one request.
		for full := time.Now(); time.Since(full) < plan.down+5*time.Second; {
			var page api.RequestList
			_, err := r.call(t.Context(), c.base, "admin", "GET", "/v1/requests?scope=all&limit=5", nil, &page)
			if err == nil && len(page.Requests) > 0 {
				_, err = r.call(t.Context(), c.base, "admin", "GET", "/v1/requests/"+page.Requests[0].ID, nil, nil)
			}
			reads++
			if err != nil {
				readErrs++
				readErr = err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	rec := c.run(t, func() { ballast = fillDisk(t, dir) }, hold, func() {
		if err := os.Remove(ballast); err != nil {
			t.Fatal(err)
		}
	})
	if readErrs > 0 {
		t.Errorf("%d of %d reads failed while the disk was full: %v", readErrs, reads, readErr)
	}
	c.l.mu.Lock()
	fullErrs, fullMsg := c.l.errs["503 unavailable"], c.l.sample["503 unavailable"]
	c.l.mu.Unlock()
	if fullErrs == 0 {
		t.Errorf("no write failed with 503 unavailable while the disk was full: the fault did not bite")
	} else if !strings.Contains(fullMsg, "disk is full") {
		t.Errorf("a write refused while the disk was full says %q, not that the disk is full", fullMsg)
	}
	integrity := sqliteIntegrity(t, path)
	out := c.check(t, rec)
	row := c.row(t, fmt.Sprintf("SQLite's filesystem full (a 256 MiB tmpfs filled by a ballast file) for %s, then freed", plan.down+5*time.Second), rec, out)
	row.load += fmt.Sprintf("; an admin reading every 100 ms while full (%d reads)", reads)
	row.result += fmt.Sprintf("; every read answered while full; integrity_check %s", integrity)
	return row
}

// sqliteIntegrity runs SQLite's integrity_check on the file (as a second
// connection, the way an operator would) and fails t unless it says ok.
func sqliteIntegrity(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	if res != "ok" {
		t.Errorf("integrity_check after the disk filled: %s", res)
	}
	return res
}

// networkCut: the connections between the server and PostgreSQL go
// through a TCP proxy the test breaks, by killing it (every connection
// reset, new ones refused) or by blackholing it (every byte held: a
// partition), and then heals.
func (r *rig) networkCut(t *testing.T, plan faultPlan, mode string) faultRow {
	dsn := testenv.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startNetFault(t, u.Host)
	u.Host = proxy.Addr()
	c := r.serveFaultCase(t, plan, openDSN(t, u.String()), dsn, serverOpts{})
	breakIt := map[string]func(){"killed": proxy.Kill, "blackholed": proxy.Blackhole}[mode]
	rec := c.run(t, breakIt, nil, proxy.Heal)
	out := c.check(t, rec)
	what := map[string]string{"killed": "the TCP proxy between the server and PostgreSQL killed (connections reset, new ones refused)",
		"blackholed": "the network between the server and PostgreSQL blackholed (a TCP proxy holding every byte, connections open)"}[mode]
	return c.row(t, fmt.Sprintf("%s for %s, then healed", what, plan.down), rec, out)
}

// stsFaults: STS answers every AssumeRole with 503 or Throttling (a
// fault-injecting proxy in front of MinIO) for plan.down mid-burst. Vends
// fail as 502 vend_failed and are audited as such; none is handed out
// unaudited, and none twice.
func (r *rig) stsFaults(t *testing.T, plan faultPlan) faultRow {
	m := testenv.MinIO(t)
	parent := m.AddUser(t, "readwrite")
	proxy := startSTSFaultProxy(t, m.Endpoint())
	v, err := vend.NewSTS(vend.STSConfig{Region: m.Region(), Endpoint: proxy.URL(), Credentials: parent.Provider(),
		DenyActions: []string{"s3:*"}, HTTPClient: r.hc})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jit.db")
	c := r.serveFaultCase(t, plan, openDSN(t, "sqlite://"+path), path, serverOpts{vendor: v})
	rec := c.run(t, func() { proxy.SetFailing(true) }, nil, func() { proxy.SetFailing(false) })
	out := c.check(t, rec)
	proxy.mu.Lock()
	injected := fmt.Sprint(proxy.injected)
	for _, cy := range c.l.cycles {
		if got, audited := proxy.delivered[cy.id], out.vends[cy.id]; got != audited {
			t.Errorf("%s: STS handed jit %d sets of credentials, %d audited as vended", cy.id, got, audited)
		}
	}
	proxy.mu.Unlock()
	if c.l.errs["502 vend_failed"] == 0 || out.vendFailed == 0 {
		t.Errorf("no vend failed (502 to clients: %d, vend_failed records: %d): the fault did not bite", c.l.errs["502 vend_failed"], out.vendFailed)
	}
	row := c.row(t, fmt.Sprintf("STS (MinIO behind a fault-injecting proxy) answering every AssumeRole 503 ServiceUnavailable or 400 Throttling for %s", plan.down), rec, out)
	row.result += fmt.Sprintf("; injected %s; %d credentials.vend_failed records; AssumeRole answers with credentials = vends audited, per grant", injected, out.vendFailed)
	return row
}

// iamThrottling: IAM (internal/fakeiam, a FAKE: no IAM runs here) answers
// every call Throttling for plan.down while revokes write their Deny. Each
// revoke still ends as revocation_enforced or revocation_failed, never
// neither: nothing is lost silently.
func (r *rig) iamThrottling(t *testing.T, plan faultPlan) faultRow {
	f := fakeiam.New(t)
	f.AddRole("123456789012", "jit-prod-admin")
	path := filepath.Join(t.TempDir(), "jit.db")
	st := openDSN(t, "sqlite://"+path)
	rv, err := vend.NewIAMRevoker(vend.IAMConfig{Endpoint: f.URL, STSEndpoint: f.URL, Credentials: f.Keys("123456789012"),
		Lock: st.WithLock, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := r.serveFaultCase(t, plan, st, path, serverOpts{revoker: rv})
	rec := c.run(t, func() { f.SetThrottling(true) }, nil, func() { f.SetThrottling(false) })
	out := c.check(t, rec)
	for _, cy := range c.l.cycles {
		if cy.revoked && out.revokeEnds[cy.id] != 1 {
			t.Errorf("%s: revoked with %d revocation_enforced/revocation_failed records, want exactly 1", cy.id, out.revokeEnds[cy.id])
		}
	}
	if f.Throttled() == 0 {
		t.Errorf("no IAM call was throttled: the fault did not bite")
	}
	row := c.row(t, fmt.Sprintf("IAM (internal/fakeiam, a named fake) answering every call 400 Throttling for %s while revokes write their Deny", plan.down), rec, out)
	row.result += fmt.Sprintf("; %d IAM calls throttled; every revoke ended as enforced or failed (%d failed, audited)", f.Throttled(), out.revokeFailed)
	return row
}

// replicaKill: two `jit server` processes (the real binary) on one
// PostgreSQL database behind the test's TCP front (a load balancer);
// requesters long-poll for their approvals. One replica is killed with
// SIGKILL mid-burst: clients must move to the other, and nothing is lost.
func (r *rig) replicaKill(t *testing.T, plan faultPlan) faultRow {
	dsn := testenv.Postgres(t)
	m := testenv.MinIO(t)
	parent := m.AddUser(t, "readwrite")
	dir := t.TempDir()
	skey, _, err := audit.GenerateKey("jit-faults")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "checkpoint.key")
	if err := os.WriteFile(keyFile, []byte(skey), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
oidc: {issuer: %q, client_id: %q}
store: {dsn: %q}
aws:
  region: %s
  sts_endpoint: %q
  access_key_id: %s
  secret_access_key: %s
  session_deny_actions: ["s3:*"]
audit: {signing_key_file: %q}
rate_limit: {requests_per_minute: 100000, burst: 10000}
%s`, r.idp.Issuer(), r.idp.ClientID(), dsn, m.Region(), m.Endpoint(), parent.AccessKeyID, parent.SecretAccessKey, keyFile, benchPolicy)
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, path, filepath.Join(dir, "a.log"))
	b := startReplica(t, path, filepath.Join(dir, "b.log"))
	front := startFront(t, a.addr, b.addr)
	c := r.faultCaseAt(t, plan, openDSN(t, dsn), dsn, front.URL())
	c.l.longPoll = true
	// Nothing heals: the recovery is from the kill to the first call
	// answered after it.
	recovered := make(chan time.Duration, 1)
	c.run(t, func() {
		a.kill(t)
		killed := time.Now()
		go func() { d, _ := c.l.waitOK(killed, 60*time.Second); recovered <- d }()
	}, nil, func() {})
	rec := <-recovered
	out := c.check(t, rec)
	if c.l.waits.Load() == 0 {
		t.Errorf("no long-poll saw its approval")
	}
	row := c.row(t, fmt.Sprintf("one of two jit server processes on one PostgreSQL killed with SIGKILL (requests and long-polls in flight); clients behind a TCP front move to the other (%s of load after)", plan.down+plan.after), rec, out)
	row.load += fmt.Sprintf("; each requester long-polls for its approval (%d long-polls woke)", c.l.waits.Load())
	return row
}

// jwksTransport is a FAULT-INJECTING transport for the server's calls to
// the IdP: while down, the JWKS (everything but discovery) answers 503.
type jwksTransport struct {
	down atomic.Bool
}

func (j *jwksTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if j.down.Load() && !strings.Contains(r.URL.Path, ".well-known") {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
			Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// jwksRotation: the IdP's JWKS goes down mid-burst and the IdP rotates its
// signing key. The load's tokens (the cached key) must go on working with
// no error at all; a token of the new key is asked to retry (503) until the
// JWKS answers again, then works. It rotates the rig's IdP: run it last.
func (r *rig) jwksRotation(t *testing.T, plan faultPlan) faultRow {
	tr := &jwksTransport{}
	path := filepath.Join(t.TempDir(), "jit.db")
	c := r.serveFaultCase(t, plan, openDSN(t, "sqlite://"+path), path, serverOpts{tweak: func(o *server.Options) {
		o.Verifier = server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: r.idp.Issuer(), ClientID: r.idp.ClientID(),
			ClockSkew: 30 * time.Second, HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	}})
	var fresh string
	var newKey []int
	rec := c.run(t, func() {
		tr.down.Store(true)
		if _, err := r.idp.RotateKey(); err != nil {
			t.Fatal(err)
		}
		fresh = testenv.IDTokens(t, r.idp, "dev01")["dev01"]
	}, func() {
		for end := time.Now().Add(plan.down); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			code, _ := r.callAs(t, c.base, fresh)
			newKey = append(newKey, code)
		}
	}, func() { tr.down.Store(false) })
	out := c.check(t, rec)
	if errs := c.l.errorSummary(); errs != "none" {
		t.Errorf("clients with the cached key's tokens saw errors while the JWKS was down: %s", errs)
	}
	for i, code := range newKey {
		if code != http.StatusServiceUnavailable {
			t.Errorf("the new key's token, call %d with the JWKS down: HTTP %d, want 503 (retry)", i, code)
			break
		}
	}
	if code, err := r.callAs(t, c.base, fresh); code != http.StatusOK {
		t.Errorf("the new key's token once the JWKS answers: HTTP %d %v", code, err)
	}
	row := c.row(t, fmt.Sprintf("the IdP's JWKS answering 503 for %s while the IdP rotates its signing key", plan.down), rec, out)
	row.result += fmt.Sprintf("; the cached key's tokens never failed; the new key's token got 503 unavailable %d× while the JWKS was down, then 200", len(newKey))
	return row
}

// callAs lists requests with a raw token.
func (r *rig) callAs(t *testing.T, base, token string) (int, error) {
	req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/v1/requests", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
