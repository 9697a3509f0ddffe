package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/report/reporttest"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

const (
	proposedPolicy = "../../pkg/replay/testdata/proposed.yaml"
	replayGolden   = "../../pkg/replay/testdata/month.txt"
)

func TestNewCmdReplay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    ReplayOptions
		wantErr string
	}{
		{"defaults", []string{"-c", "p.yaml"}, ReplayOptions{ConfigPath: "p.yaml", Since: "30d", Format: "table"}, ""},
		{"export as csv", []string{"-c", "p.yaml", "--export", "a.jsonl", "--since", "2026-04-01", "--until", "2026-05-01", "--format", "csv"},
			ReplayOptions{ConfigPath: "p.yaml", Export: "a.jsonl", Since: "2026-04-01", Until: "2026-05-01", Format: "csv"}, ""},
		{"store", []string{"-c", "p.yaml", "--store", "sqlite:///x.db"}, ReplayOptions{ConfigPath: "p.yaml", Store: "sqlite:///x.db", Since: "30d", Format: "table"}, ""},
		{"no config", nil, ReplayOptions{}, "--config is required: the proposed server config or policy file"},
		{"both sources", []string{"-c", "p.yaml", "--store", "x.db", "--export", "a.jsonl"}, ReplayOptions{}, "--store and --export are alternatives; give one"},
		{"bad format", []string{"-c", "p.yaml", "--format", "xml"}, ReplayOptions{}, `--format must be table, json or csv, not "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *ReplayOptions
			cmd := NewCmdReplay(&cmdutil.Factory{IO: io}, func(_ context.Context, o *ReplayOptions) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			g, w := *got, tc.want
			g.IO, g.Now = nil, nil
			if g.ConfigPath != w.ConfigPath || g.Store != w.Store || g.Export != w.Export || g.Since != w.Since || g.Until != w.Until || g.Format != w.Format {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// seedStore writes the seeded month into the store dsn names, as the
// server would have (each request with its audit records).
func seedStore(t *testing.T, dsn string) {
	t.Helper()
	reqs, logs, err := reporttest.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	st, err := storeopen.Open(t.Context(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		if err := st.Create(t.Context(), r, logs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// snapshot hashes every file in dir, so a test sees a changed byte or a
// new file (a -wal or -shm left behind).
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

func replayMonth(t *testing.T, opts ReplayOptions) string {
	t.Helper()
	io, stdin, stdout, _ := iostreams.Test()
	opts.IO, opts.ConfigPath, opts.Since, opts.Until, opts.Format = io, proposedPolicy, "2026-04-01", "2026-05-01", "table"
	opts.Now = func() time.Time { return time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC) }
	if opts.Export == "-" {
		stdin.Write(exportOf(t))
	}
	if err := ReplayRun(t.Context(), &opts); err != nil {
		t.Fatal(err)
	}
	return stdout.String()
}

func exportOf(t *testing.T) []byte {
	t.Helper()
	events, err := reporttest.Export()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := audit.WriteJSONL(&b, events); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func wantGolden(t *testing.T, got string) {
	t.Helper()
	want, err := os.ReadFile(replayGolden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("replay differs from %s (go test ./pkg/replay -update):\n--- got\n%s\n--- want\n%s", replayGolden, got, want)
	}
}

// Replay reads a SQLite store without writing a byte: the database file is
// identical afterwards and nothing (-wal, -shm) is left beside it.
func TestReplayReadsTheSQLiteStoreAndLeavesItByteIdentical(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "jit.db")
	seedStore(t, "sqlite://"+db)
	before := snapshot(t, dir)
	wantGolden(t, replayMonth(t, ReplayOptions{Store: "sqlite://" + db}))
	after := snapshot(t, dir)
	if len(after) != len(before) {
		t.Fatalf("files before %v, after %v", keys(before), keys(after))
	}
	for name, h := range before {
		if after[name] != h {
			t.Errorf("%s changed", name)
		}
	}
}

func keys(m map[string][32]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestReplayRefusesAMissingSQLiteFileInsteadOfCreatingIt(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing.db")
	io, _, _, _ := iostreams.Test()
	err := ReplayRun(t.Context(), &ReplayOptions{IO: io, Now: time.Now, ConfigPath: proposedPolicy, Store: db, Since: "30d", Format: "table"})
	if err == nil || !strings.Contains(err.Error(), "missing.db") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("replay created %s", db)
	}
}

// The PostgreSQL store is read in a read-only session: the audit log's
// size and head are the same afterwards.
func TestReplayReadsThePostgreSQLStoreReadOnly(t *testing.T) {
	dsn := testenv.Postgres(t)
	seedStore(t, dsn)
	count := func() int {
		n := 0
		for _, err := range storeopen.ReadAuditReadOnly(t.Context(), dsn, time.Time{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n
	}
	n := count()
	wantGolden(t, replayMonth(t, ReplayOptions{Store: dsn}))
	if count() != n {
		t.Fatalf("audit records changed from %d", n)
	}
}

func TestReplayReadsAnAuditExportFromStdin(t *testing.T) {
	wantGolden(t, replayMonth(t, ReplayOptions{Export: "-"}))
}

func TestParseWhenTakesAgesAndDates(t *testing.T) {
	now := time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                  time.Date(2026, 4, 3, 12, 0, 0, 0, time.UTC),
		"12h":                  time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC),
		"2026-04-01":           time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		"2026-04-01T10:00:00Z": time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseWhen(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWhen("last month", now); err == nil || !strings.Contains(err.Error(), "is not an age") {
		t.Errorf("err = %v", err)
	}
}

// While a server has the store open (its -wal beside the database), replay
// reads through the log and sees every record.
func TestReplayReadsASQLiteStoreAServerHasOpen(t *testing.T) {
	db := filepath.Join(t.TempDir(), "jit.db")
	reqs, logs, err := reporttest.AuditLog()
	if err != nil {
		t.Fatal(err)
	}
	st, err := storeopen.Open(t.Context(), "sqlite://"+db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, r := range reqs {
		if err := st.Create(t.Context(), r, logs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(db + "-wal"); err != nil {
		t.Fatalf("the open store has no write-ahead log: %v", err)
	}
	wantGolden(t, replayMonth(t, ReplayOptions{Store: db}))
}
