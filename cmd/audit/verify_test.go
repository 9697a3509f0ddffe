package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

// offlineLog writes an export of n records and a checkpoint of its first
// size records signed by a new key; it returns the paths and the key.
func offlineLog(t *testing.T, n int, size int64, edit func([]api.AuditEvent) []api.AuditEvent) (export, checkpoint, vkey string) {
	t.Helper()
	prev := jitaudit.GenesisHash
	var events []api.AuditEvent
	for i := 1; i <= n; i++ {
		e := api.AuditEvent{Seq: int64(i), Time: time.Date(2026, 5, 1, 9, 0, i, 0, time.UTC), Type: jitaudit.TypeVended,
			Actor: "alice", Role: "prod", Reason: "deploy", PrevHash: prev}
		e.Hash = jitaudit.Hash(e)
		prev = e.Hash
		events = append(events, e)
	}
	var tree jitaudit.MemoryTree
	for _, e := range events {
		leaf, _ := jitaudit.LeafHash(e)
		if err := tree.Append(leaf); err != nil {
			t.Fatal(err)
		}
	}
	root, err := tree.Root(size)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := jitaudit.GenerateKey("jit.example.com")
	if err != nil {
		t.Fatal(err)
	}
	k, _ := jitaudit.ParseKey(skey)
	msg, err := jitaudit.SignCheckpoint(jitaudit.Checkpoint{Origin: "jit.example.com", Size: size, Hash: root}, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		events = edit(events)
	}
	dir := t.TempDir()
	export, checkpoint = filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "checkpoint")
	var buf bytes.Buffer
	if err := jitaudit.WriteJSONL(&buf, events); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(export, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(checkpoint, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	return export, checkpoint, vkey
}

func runVerify(t *testing.T, opts *VerifyOptions) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	opts.IO, opts.Env = ios, func(string) string { return "" }
	opts.ServerURL = func() (string, error) { return "", errors.New("no jit server configured") }
	err = VerifyRun(t.Context(), opts)
	return out.String(), errOut.String(), err
}

func TestVerifyOfflineExportMatchesItsCheckpoint(t *testing.T) {
	export, cp, vkey := offlineLog(t, 40, 30, nil) // the log grew after the checkpoint
	out, errOut, err := runVerify(t, &VerifyOptions{File: export, Checkpoint: cp, Key: vkey})
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != 2 || !strings.Contains(out, "OK: 40 record(s)") || !strings.Contains(out, "size 30") {
		t.Fatalf("output:\n%s", out)
	}
}

func TestVerifyOfflineCatchesAnEditedRecordWithARecomputedChain(t *testing.T) {
	export, cp, vkey := offlineLog(t, 40, 40, func(ev []api.AuditEvent) []api.AuditEvent {
		ev[11].Actor = "someone-else"
		for i := 11; i < len(ev); i++ {
			ev[i].PrevHash = ev[i-1].Hash
			ev[i].Hash = jitaudit.Hash(ev[i])
		}
		return ev
	})
	_, errOut, err := runVerify(t, &VerifyOptions{File: export, Checkpoint: cp, Key: vkey})
	if !errors.Is(err, cmdutil.ErrSilent) || !strings.Contains(errOut, "edited or replaced") {
		t.Fatalf("err %v, stderr %q", err, errOut)
	}
}

func TestVerifyOfflineCatchesARemovedTail(t *testing.T) {
	export, cp, vkey := offlineLog(t, 40, 40, func(ev []api.AuditEvent) []api.AuditEvent { return ev[:35] })
	_, errOut, err := runVerify(t, &VerifyOptions{File: export, Checkpoint: cp, Key: vkey})
	if !errors.Is(err, cmdutil.ErrSilent) || !strings.Contains(errOut, "records were removed") {
		t.Fatalf("err %v, stderr %q", err, errOut)
	}
}

func TestVerifyOfflineRefusesACheckpointSignedByAnotherKey(t *testing.T) {
	export, cp, _ := offlineLog(t, 5, 5, nil)
	_, _, otherKey := offlineLog(t, 1, 1, nil)
	_, _, err := runVerify(t, &VerifyOptions{File: export, Checkpoint: cp, Key: otherKey})
	if !errors.Is(err, jitaudit.ErrCheckpointSignature) {
		t.Fatalf("err %v, want ErrCheckpointSignature", err)
	}
}

func TestVerifyOfflineCheckpointNeedsAKey(t *testing.T) {
	export, cp, _ := offlineLog(t, 5, 5, nil)
	_, _, err := runVerify(t, &VerifyOptions{File: export, Checkpoint: cp})
	if err == nil || !strings.Contains(err.Error(), "--key") {
		t.Fatalf("err %v", err)
	}
}
