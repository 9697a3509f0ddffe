package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/store/postgres"
)

// roundTrips counts what the PostgreSQL pool sends: every statement sent on
// its own (BEGIN and COMMIT included) and every pipelined batch is one
// round trip. Statements are tallied by their first words too.
type roundTrips struct {
	n      atomic.Int64
	mu     sync.Mutex
	byKind map[string]int64
}

func newRoundTrips() *roundTrips { return &roundTrips{byKind: map[string]int64{}} }

func (c *roundTrips) tally(kind string) {
	c.mu.Lock()
	c.byKind[kind]++
	c.mu.Unlock()
}

var firstWords = regexp.MustCompile(`^\s*(\w+(?:\s+\w+){0,3})`)

func kindOf(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if m := firstWords.FindStringSubmatch(sql); m != nil {
		return strings.ToLower(m[1])
	}
	return sql
}

func (c *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.tally("round trip: " + kindOf(d.SQL))
	return ctx
}

func (c *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	c.tally(fmt.Sprintf("round trip: a batch of %d", d.Batch.Len()))
	return ctx
}

func (c *roundTrips) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.tally("  in a batch: " + kindOf(d.SQL))
}

func (c *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *roundTrips) snapshot() (int64, map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.byKind))
	for k, v := range c.byKind {
		m[k] = v
	}
	return c.n.Load(), m
}

var (
	_ pgx.QueryTracer = (*roundTrips)(nil)
	_ pgx.BatchTracer = (*roundTrips)(nil)
)

// pgCycleResult is the PostgreSQL cycle next to pgbench, in one sitting.
type pgCycleResult struct {
	seqCycles            int
	seqRoundTrips        float64 // per cycle, one client
	breakdown            []string
	clients              int
	perSec, p50, p99     float64
	parRoundTrips        float64 // per cycle, 16 clients (group commit merges)
	pgbenchN, pgbenchTPB float64 // tps
	profileTop           string
}

// TestBenchPostgresCycle measures the request → approve → credentials cycle
// on PostgreSQL with every round trip counted (a pgx tracer), a CPU
// profile of the process during the 16-client run, and pgbench -N on the
// same PostgreSQL right before and after (docs/benchmarks.md). It runs with
// JIT_BENCH=1 or JIT_BENCH_PGCYCLE=1, and needs JIT_TEST_POSTGRES_DSN and
// pgbench (scripts/deps.sh installs postgresql-contrib).
func TestBenchPostgresCycle(t *testing.T) {
	if os.Getenv("JIT_BENCH") != "1" && os.Getenv("JIT_BENCH_PGCYCLE") != "1" {
		t.Skip("benchmarks run with JIT_BENCH=1 (make bench) or JIT_BENCH_PGCYCLE=1")
	}
	dsn := testenv.Postgres(t)
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		testenv.MissingPeer(t, "pgbench is not installed: apt-get install postgresql-contrib (scripts/deps.sh)")
	}
	d := 5 * time.Second
	if v := os.Getenv("JIT_BENCH_PGCYCLE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		d = time.Duration(n) * time.Second
	}
	res := pgCycleResult{clients: 16}
	pgbenchDSN := testenv.Postgres(t)
	runPgbench := func(args ...string) float64 {
		out, err := exec.Command(pgbench, append(args, pgbenchDSN)...).CombinedOutput()
		if err != nil {
			t.Fatalf("pgbench %v: %v\n%s", args, err, out)
		}
		if args[0] == "-i" {
			return 0
		}
		m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("pgbench printed no tps:\n%s", out)
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		return tps
	}
	runPgbench("-i", "-q", "-s", "1")
	secs := strconv.Itoa(int(d / time.Second))
	before := runPgbench("-N", "-c", "16", "-j", "2", "-T", secs)

	rt := newRoundTrips()
	st, err := postgres.Open(context.Background(), dsn, slog.New(slog.DiscardHandler), postgres.WithTracer(rt))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := newRig(t, benchUsers(12, 3))
	base := r.startServer(t, serverOpts{store: st, vendor: fakeVendor{}})
	ctx := context.Background()
	r.loadRun(base, 4, time.Second) // warm up

	// One client: round trips per cycle and what they are.
	res.seqCycles = 100
	n0, k0 := rt.snapshot()
	for range res.seqCycles {
		if err := r.cycle(ctx, base, "dev01", "appr1"); err != nil {
			t.Fatal(err)
		}
	}
	n1, k1 := rt.snapshot()
	res.seqRoundTrips = float64(n1-n0) / float64(res.seqCycles)
	for k, v := range k1 {
		if per := float64(v-k0[k]) / float64(res.seqCycles); per >= 0.05 {
			res.breakdown = append(res.breakdown, fmt.Sprintf("%.2f × %s", per, k))
		}
	}
	sort.Slice(res.breakdown, func(i, j int) bool {
		return strings.TrimPrefix(res.breakdown[i], " ") > strings.TrimPrefix(res.breakdown[j], " ")
	})

	// 16 clients, profiled.
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Fatal(err)
	}
	n2, _ := rt.snapshot()
	perSec, lat, errs := r.loadRun(base, res.clients, d)
	n3, _ := rt.snapshot()
	pprof.StopCPUProfile()
	if errs > 0 {
		t.Errorf("%d cycles failed", errs)
	}
	res.perSec, res.p50, res.p99 = perSec, quantile(lat, 0.5), quantile(lat, 0.99)
	res.parRoundTrips = float64(n3-n2) / float64(len(lat))
	after := runPgbench("-N", "-c", "16", "-j", "2", "-T", secs)
	res.pgbenchN = (before + after) / 2
	res.pgbenchTPB = runPgbench("-c", "16", "-j", "2", "-T", secs)

	dir := os.Getenv("JIT_BENCH_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "pgcycle.pprof")
	if err := os.WriteFile(path, prof.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", path).CombinedOutput(); err == nil {
		res.profileTop = string(out)
	}
	t.Logf("PostgreSQL cycle: 1 client %.1f round trips/cycle; %d clients %.0f cycles/s (p50 %.1f ms, p99 %.1f ms), %.1f round trips/cycle; pgbench -N %.0f tps (before %.0f, after %.0f), TPC-B %.0f tps",
		res.seqRoundTrips, res.clients, res.perSec, res.p50, res.p99, res.parRoundTrips, res.pgbenchN, before, after, res.pgbenchTPB)
	t.Logf("round trips of one cycle:\n%s", strings.Join(res.breakdown, "\n"))
	t.Logf("profile (%s):\n%s", path, res.profileTop)
}
