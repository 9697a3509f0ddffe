package cmd

import (
	"database/sql"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// runJit runs the whole command tree with args.
func runJit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	root := NewRootCmd(cmdutil.New(io))
	root.SetArgs(args)
	err = root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// cmd/audit reads the store only through the reader the command tree wires
// in, so the CLI's audit commands do not link the store.
func TestAuditCommandsDoNotImportTheStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/jit-access/jit/cmd/audit").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/jit-access/jit/pkg/store" || strings.HasPrefix(pkg, "github.com/jit-access/jit/pkg/store/") {
			t.Errorf("cmd/audit depends on %s", pkg)
		}
	}
}

// --store compares the records with the store's own tree: an edit that
// recomputes the chain but leaves the tree alone is caught without any
// checkpoint.
func TestVerifyStoreCatchesAnEditedRecordWithARecomputedChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jit.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := st.Append(t.Context(), jitaudit.Event{Time: time.Unix(int64(i), 0), Type: jitaudit.TypeVended, Actor: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if out, errOut, err := runJit(t, "audit", "verify", "--store", path); err != nil || !strings.Contains(out, "OK: records match checkpoint store size 20") {
		t.Fatalf("honest store: %v\n%s%s", err, out, errOut)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var events []api.AuditEvent
	rows, err := db.Query(`SELECT body FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b string
		var e api.AuditEvent
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(b), &e); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	rows.Close()
	events[4].Actor = "mallory"
	for i := 4; i < len(events); i++ {
		events[i].PrevHash = events[i-1].Hash
		events[i].Hash = jitaudit.Hash(events[i])
		b, _ := json.Marshal(events[i])
		if _, err := db.Exec(`UPDATE audit SET body = ?, actor = ? WHERE seq = ?`, string(b), events[i].Actor, events[i].Seq); err != nil {
			t.Fatal(err)
		}
	}
	_, errOut, err := runJit(t, "audit", "verify", "--store", path)
	if !errors.Is(err, cmdutil.ErrSilent) || !strings.Contains(errOut, "edited or replaced") {
		t.Fatalf("err %v, stderr %q", err, errOut)
	}
}
