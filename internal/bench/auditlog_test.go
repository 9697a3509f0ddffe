package bench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// auditLogSection: request cycles/s with the Merkle tree on both stores
// (PostgreSQL with and without group commit, interleaved in one run), and
// proof sizes and times at 10⁴ and 10⁶ records.
type auditLogSection struct {
	at     time.Time
	d      time.Duration
	reps   int
	cycles []auditCycle
	proofs []proofRow
}

type auditCycle struct {
	name    string
	perSec  []float64 // one per interleaved run
	p99     []float64
	errors  int64
	cycles  int64
	clients int
}

type proofRow struct {
	records                int64
	storage                string
	build                  time.Duration // writing the hash storage
	inclHashes, consHashes int
	inclProve, inclCheck   float64 // µs, median
	consProve, consCheck   float64 // µs, median
	treeHash, sign, opencp float64 // µs
}

func measureAuditLog(t *testing.T, r *rig, reps int, d time.Duration, big int64) *auditLogSection {
	s := &auditLogSection{at: time.Now(), d: d, reps: reps}
	type target struct {
		c    *auditCycle
		base string
	}
	var targets []target
	add := func(name string, st store.Store) {
		c := &auditCycle{name: name, clients: 16}
		s.cycles = append(s.cycles, *c)
		targets = append(targets, target{c: &s.cycles[len(s.cycles)-1], base: r.startServer(t, serverOpts{store: st, vendor: fakeVendor{}})})
	}
	s.cycles = make([]auditCycle, 0, 3)
	add("sqlite (group commit, as before)", openStore(t, "sqlite"))
	if dsn := os.Getenv(testenv.PostgresDSNEnv); dsn != "" {
		add("postgres, group commit", openStore(t, "postgres"))
		pg, err := postgres.Open(context.Background(), testenv.Postgres(t), nil, postgres.WithoutGroupCommit())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		add("postgres, one transaction per write (before)", pg)
	}
	for _, tg := range targets {
		r.loadRun(tg.base, 16, d/4) // warm up
	}
	for range reps {
		for _, tg := range targets { // interleaved: machine noise hits every store alike
			ps, lat, errs := r.loadRun(tg.base, 16, d)
			tg.c.perSec = append(tg.c.perSec, ps)
			tg.c.p99 = append(tg.c.p99, quantile(lat, 0.99))
			tg.c.errors += errs
			tg.c.cycles += int64(len(lat))
		}
	}
	for _, c := range s.cycles {
		t.Logf("audit-log: %s, 16 clients: %.0f cycles/s (runs %v)", c.name, median(c.perSec), c.perSec)
	}
	s.proofs = append(s.proofs, measureProofs(t, 10_000, "SQLite store (records appended through the store)"))
	s.proofs = append(s.proofs, measureProofs(t, 10_000, "memory"))
	s.proofs = append(s.proofs, measureProofs(t, big, "SQLite audit_tree (hashes generated directly)"))
	s.proofs = append(s.proofs, measureProofs(t, big, "memory"))
	return s
}

// syntheticLeaf is the leaf of a made-up record i, hashed as the stores hash
// records (audit.RecordBytes).
func syntheticLeaf(i int64) tlog.Hash {
	e := api.AuditEvent{Seq: i + 1, Time: time.Unix(1_780_000_000+i, 0).UTC(), Type: audit.TypeVended, Actor: fmt.Sprintf("dev%02d@example.com", i%12),
		Role: "prod-admin", RequestID: fmt.Sprintf("req_%026d", i), Detail: map[string]string{"expires": "2026-05-01T10:00:00Z"},
		PrevHash: audit.GenesisHash, Hash: audit.GenesisHash}
	h, _ := audit.LeafHash(e)
	return h
}

func measureProofs(t *testing.T, n int64, storage string) proofRow {
	t.Helper()
	ctx := context.Background()
	row := proofRow{records: n, storage: storage}
	var reader tlog.HashReader
	t0 := time.Now()
	switch {
	case strings.HasPrefix(storage, "SQLite store"):
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jit.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := int64(0); i < n; i += 100 {
			evs := make([]audit.Event, 0, 100)
			for j := i; j < min(n, i+100); j++ {
				evs = append(evs, audit.Event{Time: time.Unix(1_780_000_000+j, 0), Type: audit.TypeVended, Actor: "dev@example.com", Role: "prod-admin"})
			}
			if err := st.Append(ctx, evs...); err != nil {
				t.Fatal(err)
			}
		}
		reader = store.HashReader(ctx, st)
	default:
		var m audit.MemoryTree
		for i := range n {
			if err := m.Append(syntheticLeaf(i)); err != nil {
				t.Fatal(err)
			}
		}
		reader = &m
		if strings.HasPrefix(storage, "SQLite audit_tree") {
			// The stored hashes written straight into a store's table, as
			// the store would have after n appends (no records).
			path := filepath.Join(t.TempDir(), "jit.db")
			st, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
			if err != nil {
				t.Fatal(err)
			}
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			ins, err := tx.Prepare(`INSERT INTO audit_tree (idx, hash) VALUES (?, ?)`)
			if err != nil {
				t.Fatal(err)
			}
			count := tlog.StoredHashCount(n)
			for idx := int64(0); idx < count; idx++ {
				hs, err := m.ReadHashes([]int64{idx})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ins.Exec(idx, hs[0][:]); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			db.Close()
			st2, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			reader = store.HashReader(ctx, st2)
		}
	}
	row.build = time.Since(t0)

	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	t1 := time.Now()
	root, err := tlog.TreeHash(n, reader)
	if err != nil {
		t.Fatal(err)
	}
	row.treeHash = us(time.Since(t1))
	rng := rand.New(rand.NewPCG(1, 2))
	var ip, ic, cp, cc []float64
	for range 300 {
		leaf := rng.Int64N(n)
		t1 := time.Now()
		p, err := tlog.ProveRecord(n, leaf, reader)
		if err != nil {
			t.Fatal(err)
		}
		ip = append(ip, us(time.Since(t1)))
		lh, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, leaf)})
		if err != nil {
			t.Fatal(err)
		}
		t1 = time.Now()
		if err := tlog.CheckRecord(p, n, root, leaf, lh[0]); err != nil {
			t.Fatal(err)
		}
		ic = append(ic, us(time.Since(t1)))
		row.inclHashes = max(row.inclHashes, len(p))

		old := 1 + rng.Int64N(n-1)
		t1 = time.Now()
		tp, err := tlog.ProveTree(n, old, reader)
		if err != nil {
			t.Fatal(err)
		}
		cp = append(cp, us(time.Since(t1)))
		oh, err := tlog.TreeHash(old, reader)
		if err != nil {
			t.Fatal(err)
		}
		t1 = time.Now()
		if err := tlog.CheckTree(tp, n, root, old, oh); err != nil {
			t.Fatal(err)
		}
		cc = append(cc, us(time.Since(t1)))
		row.consHashes = max(row.consHashes, len(tp))
	}
	row.inclProve, row.inclCheck, row.consProve, row.consCheck = median(ip), median(ic), median(cp), median(cc)

	skey, vkey, err := audit.GenerateKey("bench.example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := audit.ParseKey(skey)
	v, _ := note.NewVerifier(vkey)
	c := audit.Checkpoint{Origin: "bench.example.com", Size: n, Hash: root}
	var sg, op []float64
	for range 200 {
		t1 := time.Now()
		msg, err := audit.SignCheckpoint(c, k.Signer)
		if err != nil {
			t.Fatal(err)
		}
		sg = append(sg, us(time.Since(t1)))
		t1 = time.Now()
		if _, err := audit.OpenCheckpoint(msg, v); err != nil {
			t.Fatal(err)
		}
		op = append(op, us(time.Since(t1)))
	}
	row.sign, row.opencp = median(sg), median(op)
	t.Logf("proofs %d (%s): built in %s; inclusion %d hashes %.0f µs; consistency %d hashes %.0f µs", n, storage, row.build.Round(time.Millisecond), row.inclHashes, row.inclProve, row.consHashes, row.consProve)
	return row
}

func (s *auditLogSection) markdown(p func(string, ...any)) {
	p("One cycle as in section 2 (create, approve, credentials; fake vendor), 16 closed-loop clients, %d timed runs of %s per store, **interleaved** (store A, B, C, A, B, C, …) so that the shared machine's load hits every store alike; the median run is shown. Every store now also writes each record's Merkle tree hashes (tlog hash storage) in the record's transaction. \"Before\" on PostgreSQL is the same binary with `postgres.WithoutGroupCommit()`: each write its own transaction holding the audit lock through its commit.\n\n", s.reps, s.d)
	p("| store | cycles/s (median) | runs | p99 ms (median) | cycles | errors |\n|---|---:|---|---:|---:|---:|\n")
	for _, c := range s.cycles {
		runs := make([]string, len(c.perSec))
		for i, x := range c.perSec {
			runs[i] = fmt.Sprintf("%.0f", x)
		}
		p("| %s | %.0f | %s | %.1f | %d | %d |\n", c.name, median(c.perSec), strings.Join(runs, ", "), median(c.p99), c.cycles, c.errors)
	}
	p("\nProofs. The 10⁴-record store row appends real records through the SQLite store (100 per Append); the 10⁶ rows generate the records' leaf hashes directly (synthetic `credentials.vended` records hashed with `audit.RecordBytes`) into `audit.MemoryTree`, and for the SQLite row copy its stored hashes into a fresh store's `audit_tree` table in one transaction (no records, no server), then read them back through the store as the server's proof endpoints do. Times are medians over 300 random leaves / old sizes; a hash is 32 bytes.\n\n")
	p("| records | hash storage | build | inclusion proof | prove µs | verify µs | consistency proof | prove µs | verify µs | tree hash µs | sign checkpoint µs | verify checkpoint µs |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range s.proofs {
		p("| %d | %s | %s | ≤ %d hashes (%d B) | %.0f | %.1f | ≤ %d hashes (%d B) | %.0f | %.1f | %.0f | %.0f | %.0f |\n",
			r.records, r.storage, r.build.Round(time.Millisecond), r.inclHashes, 32*r.inclHashes, r.inclProve, r.inclCheck,
			r.consHashes, 32*r.consHashes, r.consProve, r.consCheck, r.treeHash, r.sign, r.opencp)
	}
	p("\nReproduce: `JIT_BENCH_AUDIT=1 go test -run '^TestBenchAuditLog$' -v -timeout 20m ./internal/bench` (with `%s` set for PostgreSQL), or `make bench` (section \"audit-log\").\n\n", testenv.PostgresDSNEnv)
}

var auditHeading = regexp.MustCompile(`(?s)\n## 7\. Audit log: .*?(\n## |\z)`)

// TestBenchAuditLog measures only the audit-log section and writes it into
// docs/benchmarks.md (replacing an earlier such section) under a dated
// heading, without re-running the other sections.
func TestBenchAuditLog(t *testing.T) {
	if os.Getenv("JIT_BENCH_AUDIT") != "1" {
		t.Skip("the audit-log benchmark runs with JIT_BENCH_AUDIT=1 (or as part of make bench)")
	}
	r := newRig(t, benchUsers(12, 3))
	d, reps, big := 3*time.Second, 5, int64(1_000_000)
	if os.Getenv("JIT_BENCH_QUICK") == "1" {
		d, reps, big = 500*time.Millisecond, 1, 100_000
	}
	s := measureAuditLog(t, r, reps, d, big)
	var b strings.Builder
	s.markdownSection(func(format string, a ...any) { fmt.Fprintf(&b, format, a...) })
	out := os.Getenv("JIT_BENCH_OUT")
	if out == "" {
		out = "../../docs"
	}
	path := filepath.Join(out, "benchmarks.md")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	doc := auditHeading.ReplaceAllStringFunc(string(old), func(m string) string {
		if strings.HasSuffix(m, "\n## ") {
			return "\n## "
		}
		return ""
	})
	doc = strings.TrimRight(doc, "\n") + "\n\n" + b.String()
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *auditLogSection) markdownSection(p func(string, ...any)) {
	cpu, kernel, load := machine()
	p("## 7. Audit log: Merkle tree, group commit, proofs (measured %s)\n\n", s.at.UTC().Format("2006-01-02 15:04 MST"))
	p("Machine: %s, %s; load average at the end: %s — shared with other engineers' builds and tests while this ran, so compare the rows of one table (measured side by side), not absolute figures across sections.\n\n", cpu, kernel, load)
	s.markdown(p)
}
