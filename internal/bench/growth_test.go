package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/jit-access/jit/internal/history"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
	"github.com/jit-access/jit/pkg/witness"
)

// growthEnd is the seeded histories' last moment: "now" for every query.
var growthEnd = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// growthOps are the measured operations, in the table's order.
var growthOps = []string{
	"jit requests --pending", "jit requests --mine", "jit show", "review queue", "jit report --since 30d",
	"idle sweep (store)", "due sweep (store)", "checkpoint + consistency proof", "inclusion proof",
	"witness verify since yesterday", "server start (store open)",
}

// growthRow is one (store, size) of the growth table.
type growthRow struct {
	store             string
	requests          int
	records           int64
	seed              time.Duration
	dbBytes           int64
	p50, p99          map[string]float64 // ms per operation
	exportMs          float64            // full export + full verify
	exportHeapMiB     float64            // their peak heap
	recordsSinceYday  int64
	fullVerifyRecords int64
}

// TestBenchGrowth measures how jit's everyday operations grow with its
// history (docs/benchmarks-growth.md): each store is seeded with a steady
// history (internal/history; the last month looks the same at every size,
// only the past is longer), then every operation is timed at that size.
// It runs with JIT_BENCH=1 (make bench) or JIT_BENCH_GROWTH=1 alone;
// JIT_BENCH_GROWTH_SIZES (default 10000,100000) and JIT_BENCH_GROWTH_STORES
// (default sqlite,postgres) pick what is measured.
func TestBenchGrowth(t *testing.T) {
	if os.Getenv("JIT_BENCH") != "1" && os.Getenv("JIT_BENCH_GROWTH") != "1" {
		t.Skip("benchmarks run with JIT_BENCH=1 (make bench) or JIT_BENCH_GROWTH=1")
	}
	sizes := []int{10000, 100000}
	if v := os.Getenv("JIT_BENCH_GROWTH_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 100 {
				t.Fatalf("JIT_BENCH_GROWTH_SIZES=%q: sizes are numbers of requests, at least 100", v)
			}
			sizes = append(sizes, n)
		}
	}
	stores := []string{"sqlite", "postgres"}
	if v := os.Getenv("JIT_BENCH_GROWTH_STORES"); v != "" {
		stores = strings.Split(v, ",")
	}
	users := benchUsers(12, 3)
	r := newRig(t, users)
	var rows []growthRow
	for _, kind := range stores {
		if kind == "postgres" && os.Getenv(testenv.PostgresDSNEnv) == "" {
			t.Logf("PostgreSQL not measured: %s is not set", testenv.PostgresDSNEnv)
			continue
		}
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/%d", kind, n), func(t *testing.T) {
				row := r.measureGrowth(t, kind, n, users)
				rows = append(rows, row)
				t.Logf("%s %d: %+v", kind, n, row)
				// Write after every size: a long run that is stopped keeps
				// what it measured.
				if err := writeGrowth(growthDir(), rows); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func growthDir() string {
	if d := os.Getenv("JIT_BENCH_OUT"); d != "" {
		return d
	}
	return "../../docs"
}

// historyUsers are the rig's users as the server sees them, so that the
// seeded requests are theirs (jit requests --mine finds dev01's history).
func (r *rig) historyUsers(users []devidp.User, group string) []api.User {
	var out []api.User
	for _, u := range users {
		if u.Groups[0] != group {
			continue
		}
		out = append(out, api.User{Issuer: r.idp.Issuer(), Subject: devidp.SubjectFor(u.Username), Username: u.Email,
			Email: u.Email, Name: u.Name, Groups: u.Groups})
	}
	return out
}

func (r *rig) measureGrowth(t *testing.T, kind string, n int, users []devidp.User) growthRow {
	ctx := context.Background()
	row := growthRow{store: kind, requests: n, p50: map[string]float64{}, p99: map[string]float64{}}
	var dsn string
	var dbSize func() int64
	switch kind {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "jit.db")
		dsn = path
		dbSize = func() int64 {
			var total int64
			for _, suffix := range []string{"", "-wal"} {
				if fi, err := os.Stat(path + suffix); err == nil {
					total += fi.Size()
				}
			}
			return total
		}
	case "postgres":
		dsn = testenv.Postgres(t)
		dbSize = func() int64 {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var size int64
			if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&size); err != nil {
				t.Fatal(err)
			}
			return size
		}
	default:
		t.Fatalf("unknown store %q", kind)
	}
	st, err := storeopen.Open(ctx, dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Now()
	stats, err := history.Seed(ctx, st.(history.Batcher), history.Options{
		Requests: n, End: growthEnd, Requesters: r.historyUsers(users, "developers"), Approvers: r.historyUsers(users, "approvers"),
		Roles: history.Roles{Approved: "prod-admin", Auto: "idle", BreakGlass: "oncall"},
		Progress: func(created int) {
			if created%20000 < 250 {
				t.Logf("seed %s: %d of %d requests after %s", kind, created, n, time.Since(t0).Round(time.Second))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	row.seed, row.records = time.Since(t0), stats.Records
	row.dbBytes = dbSize()

	skey, _, err := audit.GenerateKey("jit-bench")
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	base := r.startServer(t, serverOpts{store: st, vendor: fakeVendor{}, tweak: func(o *server.Options) { o.CheckpointKey = key }})
	client := func(user string) *apiclient.Client {
		c, err := apiclient.New(base, r.hc, func(context.Context) (string, error) { return r.tokens[user], nil })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, dev, appr := client("admin"), client("dev01"), client("appr1")
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	ids := sampleIDs(t, st, stats, rng, 50)
	size := stats.Records

	// Yesterday's witness: the checkpoint of the log as it stood a day
	// before the end, signed with the server's key and saved where the
	// witness keeps it.
	yday, err := st.Audit(ctx, store.AuditFilter{Since: growthEnd.Add(-24 * time.Hour), Limit: 1})
	if err != nil || len(yday) == 0 {
		t.Fatalf("the record of a day before the end: %v %v", yday, err)
	}
	ySize := yday[0].Seq - 1
	yRecs, err := st.Audit(ctx, store.AuditFilter{AfterSeq: ySize - 1, Limit: 1})
	if err != nil || len(yRecs) != 1 {
		t.Fatal(err)
	}
	yRoot, err := tlog.TreeHash(ySize, store.HashReader(ctx, st))
	if err != nil {
		t.Fatal(err)
	}
	yNote, err := audit.SignCheckpoint(audit.Checkpoint{Origin: "jit-bench", Size: ySize, Hash: yRoot}, key.Signer)
	if err != nil {
		t.Fatal(err)
	}
	row.recordsSinceYday = size - ySize
	verifier, err := note.NewVerifier(key.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}

	type op struct {
		name string
		reps int
		do   func(i int) error
	}
	ops := []op{
		{"jit requests --pending", 40, func(int) error {
			_, err := appr.List(ctx, apiclient.ScopeReview, nil, "", 0)
			return err
		}},
		{"jit requests --mine", 40, func(int) error {
			_, err := dev.List(ctx, apiclient.ScopeMine, nil, "", 0)
			return err
		}},
		{"jit show", 40, func(i int) error {
			_, err := admin.Get(ctx, ids[i%len(ids)])
			return err
		}},
		{"review queue", 40, func(int) error {
			_, err := appr.Reviews(ctx)
			return err
		}},
		{"jit report --since 30d", 10, func(int) error {
			_, err := admin.Report(ctx, growthEnd.Add(-30*24*time.Hour), growthEnd)
			return err
		}},
		{"idle sweep (store)", 40, func(int) error {
			reqs, _, err := st.List(ctx, store.Filter{Roles: []string{"idle"}, States: []api.State{api.StateApproved, api.StateActive}, Limit: 500})
			if err != nil {
				return err
			}
			idsOf := make([]string, len(reqs))
			for i := range reqs {
				idsOf[i] = reqs[i].ID
			}
			_, err = st.(store.ActivityStore).Activity(ctx, idsOf...)
			return err
		}},
		{"due sweep (store)", 40, func(int) error {
			_, err := st.Due(ctx, growthEnd, 500)
			return err
		}},
		{"checkpoint + consistency proof", 40, func(i int) error {
			from := 1 + rng.Int64N(size-1)
			cp, err := dev.AuditCheckpoint(ctx, from)
			if err != nil {
				return err
			}
			c, err := audit.OpenCheckpoint([]byte(cp.Checkpoint), verifier)
			if err != nil {
				return err
			}
			old, err := tlog.TreeHash(from, store.HashReader(ctx, st))
			if err != nil {
				return err
			}
			return audit.CheckConsistency(audit.Checkpoint{Origin: c.Origin, Size: from, Hash: old}, c, cp.Consistency)
		}},
		{"inclusion proof", 40, func(int) error {
			_, err := dev.AuditInclusion(ctx, 1+rng.Int64N(size), size)
			return err
		}},
		{"witness verify since yesterday", 10, func(int) error {
			return verifySinceYesterday(ctx, t.TempDir(), base, admin, verifier, yNote, yRecs[0], size)
		}},
		{"server start (store open)", 5, func(int) error {
			s, err := storeopen.Open(ctx, dsn, slog.New(slog.DiscardHandler))
			if err == nil {
				err = s.Close()
			}
			return err
		}},
	}
	for _, o := range ops {
		if err := o.do(0); err != nil { // warm up
			t.Fatalf("%s: %v", o.name, err)
		}
		var xs []float64
		for i := range o.reps {
			t0 := time.Now()
			if err := o.do(i); err != nil {
				t.Fatalf("%s: %v", o.name, err)
			}
			xs = append(xs, ms(time.Since(t0)))
		}
		row.p50[o.name], row.p99[o.name] = median(xs), quantile(xs, 0.99)
	}

	// The full export and verify, once: linear in the log; its memory.
	stop := heapPeak()
	t0 = time.Now()
	count, err := fullVerify(ctx, admin)
	row.exportMs = ms(time.Since(t0))
	row.exportHeapMiB = float64(stop()) / (1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	row.fullVerifyRecords = count
	return row
}

// sampleIDs picks requests spread over the whole history.
func sampleIDs(t *testing.T, st store.Store, stats history.Stats, rng *rand.Rand, n int) []string {
	var ids []string
	span := stats.End.Sub(stats.Start)
	for len(ids) < n {
		at := stats.Start.Add(time.Duration(rng.Int64N(int64(span))))
		reqs, _, err := st.List(context.Background(), store.Filter{Cursor: store.EncodeCursor(at.UnixNano(), "req_zzzz"), Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) == 1 {
			ids = append(ids, reqs[0].ID)
		}
	}
	return ids
}

// verifySinceYesterday is what a witness that verified yesterday does
// today: the real witness checks the server's new checkpoint against the
// one it kept (a consistency proof), then reads only the records after the
// head it verified, checks their chain from that head, and checks that the
// newest record is in the new checkpoint's tree (its leaf commits to the
// chain, so to every record before it).
func verifySinceYesterday(ctx context.Context, dir, server string, c *apiclient.Client, v note.Verifier, yNote []byte,
	yHead api.AuditEvent, size int64) error {
	w := &witness.Witness{Dir: dir}
	if err := w.Save(server, v, yNote); err != nil {
		return err
	}
	res, err := w.Observe(ctx, server, c, "")
	if err != nil {
		return err
	}
	cur := res.Current
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(c.AuditExport(ctx, url.Values{"after": {strconv.FormatInt(yHead.Seq, 10)}}, pw))
	}()
	chain := audit.Resume(yHead.Seq, yHead.Hash)
	var last api.AuditEvent
	for e, err := range audit.ReadJSONL(pr) {
		if err != nil {
			pr.Close()
			return err
		}
		if err := chain.Add(e); err != nil {
			pr.Close()
			return err
		}
		last = e
		if e.Seq == cur.Size {
			break
		}
	}
	pr.Close()
	if last.Seq != cur.Size {
		return fmt.Errorf("the export ends at %d, the checkpoint at %d", last.Seq, cur.Size)
	}
	p, err := c.AuditInclusion(ctx, last.Seq, cur.Size)
	if err != nil {
		return err
	}
	return audit.CheckInclusion(cur, last, p.Proof)
}

// fullVerify reads the whole export and checks it as `jit audit verify`
// does (chain and Merkle tree in memory).
func fullVerify(ctx context.Context, c *apiclient.Client) (int64, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.AuditExport(ctx, url.Values{}, pw)) }()
	v := audit.NewVerifier()
	var tree audit.MemoryTree
	var n int64
	for e, err := range audit.ReadJSONL(pr) {
		if err != nil {
			return n, err
		}
		if err := v.Add(e); err != nil {
			return n, err
		}
		leaf, err := audit.LeafHash(e)
		if err != nil {
			return n, err
		}
		if err := tree.Append(leaf); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// heapPeak samples the heap in use until stop, which returns the peak above
// the heap at the start.
func heapPeak() func() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > base && m.HeapInuse-base > peak.Load() {
				peak.Store(m.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		return peak.Load()
	}
}

// writeGrowth writes docs/benchmarks-growth.md and its chart.
func writeGrowth(dir string, rows []growthRow) error {
	var b strings.Builder
	p := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	cpu, kernel, load := machine()
	p("# Benchmarks: growth with history\n\n")
	p("Written by `TestBenchGrowth` (internal/bench; `JIT_BENCH_GROWTH=1 go test -run TestBenchGrowth -v -timeout 3h ./internal/bench`, also part of `make bench`) on %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	p("**Machine:** %s, %d cores, %s, %s. Load average at the end: %s — shared with other engineers' builds and tests, so absolute times are noisy; compare sizes within one store.\n\n",
		cpu, runtime.NumCPU(), kernel, runtime.Version(), load)
	p("Each store is seeded by `internal/history` (also `go run ./internal/seed -store DSN -requests N`): a steady 300 requests a day ending at %s, so a bigger store is a longer past, and the last month — what the report, the queues and the sweeps look at — is the same at every size. Every request is written through the store's own write path (its rows, audit chain and Merkle tree hashes, in batches of one transaction each): about 70%% are approved and used (credentials fetched every 40 minutes) until they expire, the rest are denied, cancelled, timed out, revoked, auto-approved (role `idle`) or break-glass (reviewed a day later), about 8 audit records a request. The server is a real `jit server` (real token verification, fake vendor); operations marked (store) call the store as the sweeper does. Times are in ms: median and p99 over 40 runs (10 for the report and the witness, 5 for start-up).\n\n",
		growthEnd.Format(time.RFC3339))
	// One column per (store, size), one row per figure.
	p("| |")
	for _, r := range rows {
		p(" %s, %d requests |", r.store, r.requests)
	}
	p("\n|---|")
	for range rows {
		p("---:|")
	}
	p("\n")
	line := func(name string, cell func(r growthRow) string) {
		p("| %s |", name)
		for _, r := range rows {
			p(" %s |", cell(r))
		}
		p("\n")
	}
	line("audit records", func(r growthRow) string { return strconv.FormatInt(r.records, 10) })
	line("seed time (records/s)", func(r growthRow) string {
		return fmt.Sprintf("%s (%.0f/s)", r.seed.Round(time.Second), float64(r.records)/r.seed.Seconds())
	})
	line("database size", func(r growthRow) string { return fmt.Sprintf("%.1f MiB", float64(r.dbBytes)/(1<<20)) })
	for _, o := range growthOps {
		line(o+", ms p50 / p99", func(r growthRow) string { return fmt.Sprintf("%.2f / %.2f", r.p50[o], r.p99[o]) })
	}
	line("witness: records since yesterday", func(r growthRow) string { return strconv.FormatInt(r.recordsSinceYday, 10) })
	line("full export + verify (linear)", func(r growthRow) string {
		return fmt.Sprintf("%.1f s, %d records", r.exportMs/1000, r.fullVerifyRecords)
	})
	line("its peak heap", func(r growthRow) string { return fmt.Sprintf("%.0f MiB", r.exportHeapMiB) })
	p("\n")
	p("![p50 by history size](benchmarks-growth.svg)\n")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := growthChart(filepath.Join(dir, "benchmarks-growth.svg"), rows); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "benchmarks-growth.md"), []byte(b.String()), 0o644)
}

// growthChart draws each operation's p50 against the history's size, one
// line per (store, operation), on log-log axes.
func growthChart(path string, rows []growthRow) error {
	pl := plot.New()
	pl.Title.Text = "Median ms per operation by history size (flat is the goal)"
	pl.X.Label.Text = "requests in the store"
	pl.Y.Label.Text = "ms (median)"
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	pl.X.Tick.Marker, pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	i := 0
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, o := range growthOps {
			var pts plotter.XYs
			for _, r := range rows {
				if r.store == kind && r.p50[o] > 0 {
					pts = append(pts, plotter.XY{X: float64(r.requests), Y: r.p50[o]})
				}
			}
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return err
			}
			c := palette[i%len(palette)]
			line.Color, points.Color = c, c
			if kind == "postgres" {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			pl.Add(line, points)
			pl.Legend.Add(kind+": "+o, line)
			i++
		}
	}
	pl.Legend.Top, pl.Legend.Left = true, true
	pl.Legend.TextStyle.Font.Size = vg.Points(7)
	return pl.Save(11*vg.Inch, 7*vg.Inch, path)
}
