package history_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/cmd"
	"github.com/jit-access/jit/internal/history"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

var end = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// small is a history of a few days with every kind of request in it.
var small = history.Options{Requests: 200, PerDay: 100, End: end}

// seed opens dsn as the server does, writes o's history and closes it.
func seed(t *testing.T, dsn string, o history.Options) history.Stats {
	t.Helper()
	st, err := storeopen.Open(t.Context(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := history.Seed(t.Context(), st.(history.Batcher), o)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// A seeded store is one a server could have written: `jit audit verify
// --store` passes on its chain and its tree, the tree a server builds at
// start from the records alone is the seeded tree hash for hash, inclusion
// proofs check, and the requests end in the states the lifecycle gives.
func TestSeededStorePassesTheRealVerifierAndServerStart(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var dsn string
			if kind == "sqlite" {
				dsn = filepath.Join(t.TempDir(), "jit.db")
			} else {
				dsn = testenv.Postgres(t)
			}
			stats := seed(t, dsn, small)
			if stats.Requests != small.Requests || stats.Records < int64(5*small.Requests) || stats.Records > int64(15*small.Requests) {
				t.Fatalf("seeded %+v; want %d requests with 5-15 records each", stats, small.Requests)
			}

			out, errOut, err := runJit(t, "audit", "verify", "--store", dsn)
			want := "OK: records match checkpoint store size " + itoa(stats.Records)
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("jit audit verify --store: %v\n%s%s\nwant %q", err, out, errOut, want)
			}

			st := open(t, dsn)
			size, root, err := store.TreeHead(t.Context(), st)
			if err != nil || size != stats.Records {
				t.Fatalf("tree head: %d %v; want size %d", size, err, stats.Records)
			}
			checkInclusion(t, st, size, root, []int64{1, size / 2, size})
			counts := states(t, st)
			for _, s := range []api.State{api.StateActive, api.StateExpired, api.StateDenied,
				api.StateCancelled, api.StateTimedOut, api.StateRevoked} {
				if counts[s] == 0 {
					t.Errorf("no request ends %s: %v", s, counts)
				}
			}
			reviews, _, err := st.List(t.Context(), store.Filter{AwaitingReview: true})
			if err != nil || len(reviews) == 0 {
				t.Errorf("no break-glass grant awaits its review at the end (%v)", err)
			}
			st.Close()

			// A server starting on records without their tree builds it
			// (sqlstore.Open): the same hashes the seed wrote.
			dropTree(t, kind, dsn)
			st = open(t, dsn)
			size2, root2, err := store.TreeHead(t.Context(), st)
			if err != nil || size2 != size || root2 != root {
				t.Fatalf("tree rebuilt at start: %d %x %v; seeded %d %x", size2, root2, err, size, root)
			}
		})
	}
}

// The same options give the same history, record for record.
func TestSeedIsDeterministic(t *testing.T) {
	o := small
	o.Requests = 60
	var roots []tlog.Hash
	for _, name := range []string{"a.db", "b.db"} {
		dsn := filepath.Join(t.TempDir(), name)
		seed(t, dsn, o)
		st := open(t, dsn)
		_, root, err := store.TreeHead(t.Context(), st)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, root)
	}
	if roots[0] != roots[1] {
		t.Fatalf("two seeds of the same options differ: %x and %x", roots[0], roots[1])
	}
	o.Seed = 2
	dsn := filepath.Join(t.TempDir(), "c.db")
	seed(t, dsn, o)
	if _, root, _ := store.TreeHead(t.Context(), open(t, dsn)); root == roots[0] {
		t.Fatal("another seed gave the same history")
	}
}

func TestSeedRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]history.Options{
		"no end":            {Requests: 1},
		"negative requests": {Requests: -1, End: end},
	} {
		if _, err := history.Seed(context.Background(), nil, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func open(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := storeopen.Open(t.Context(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// runJit runs the jit command tree with args.
func runJit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	root := cmd.NewRootCmd(cmdutil.New(io))
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

func checkInclusion(t *testing.T, st store.Store, size int64, root tlog.Hash, seqs []int64) {
	t.Helper()
	cp := jitaudit.Checkpoint{Origin: "store", Size: size, Hash: root}
	for _, seq := range seqs {
		evs, err := st.Audit(t.Context(), store.AuditFilter{AfterSeq: seq - 1, Limit: 1})
		if err != nil || len(evs) != 1 {
			t.Fatalf("record %d: %v %v", seq, evs, err)
		}
		proof, err := tlog.ProveRecord(size, seq-1, store.HashReader(t.Context(), st))
		if err != nil {
			t.Fatal(err)
		}
		if err := jitaudit.CheckInclusion(cp, evs[0], proof); err != nil {
			t.Errorf("record %d: %v", seq, err)
		}
	}
}

func states(t *testing.T, st store.Store) map[api.State]int {
	t.Helper()
	out := map[api.State]int{}
	f := store.Filter{Limit: 500}
	for {
		reqs, next, err := st.List(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			out[r.State]++
		}
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

// dropTree deletes the audit tree's rows, as in a log older than the tree.
func dropTree(t *testing.T, kind, dsn string) {
	t.Helper()
	if kind == "sqlite" {
		db, err := sql.Open("sqlite", "file:"+dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`DELETE FROM audit_tree`); err != nil {
			t.Fatal(err)
		}
		return
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `DELETE FROM audit_tree`); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
