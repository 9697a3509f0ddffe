package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
)

func testKey(t *testing.T, name string) (*Key, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if k.VerifierKey != vkey {
		t.Fatalf("derived verifier key %s, generated %s", k.VerifierKey, vkey)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return k, v
}

func chainOf(n int) []api.AuditEvent {
	prev := GenesisHash
	var out []api.AuditEvent
	for i := 1; i <= n; i++ {
		e := api.AuditEvent{Seq: int64(i), Time: time.Date(2026, 5, 1, 9, 0, i, 123, time.UTC), Type: TypeVended, Actor: "alice",
			Role: "prod", Reason: "<deploy> & fix", Detail: map[string]string{"b": "2", "a": "ü"}, PrevHash: prev}
		e.Hash = Hash(e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func treeOf(t *testing.T, events []api.AuditEvent) *MemoryTree {
	t.Helper()
	var m MemoryTree
	for _, e := range events {
		leaf, err := LeafHash(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Append(leaf); err != nil {
			t.Fatal(err)
		}
	}
	return &m
}

func TestCheckpointSignedByAnotherKeyRefused(t *testing.T) {
	k, v := testKey(t, "jit.example.com")
	other, _ := testKey(t, "jit.example.com") // same name, another key
	cp := Checkpoint{Origin: "jit.example.com", Size: 3, Hash: tlog.RecordHash([]byte("x"))}
	good, err := SignCheckpoint(cp, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := OpenCheckpoint(good, v); err != nil || got != cp {
		t.Fatalf("own checkpoint: %+v, %v", got, err)
	}
	forged, err := SignCheckpoint(cp, other.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(forged, v); !errors.Is(err, ErrCheckpointSignature) {
		t.Fatalf("checkpoint signed by another key: err %v, want ErrCheckpointSignature", err)
	}
	// The right signature on altered text.
	altered := bytes.Replace(good, []byte("\n3\n"), []byte("\n4\n"), 1)
	if _, err := OpenCheckpoint(altered, v); err == nil {
		t.Fatal("a checkpoint whose size was altered after signing verified")
	}
}

func TestCheckpointOriginMustBeTheKeyName(t *testing.T) {
	k, _ := testKey(t, "jit.example.com")
	if _, err := SignCheckpoint(Checkpoint{Origin: "other.example.com", Size: 1}, k.Signer); err == nil {
		t.Fatal("signed a checkpoint for another origin")
	}
	if _, err := ParseCheckpoint("origin\n-1\nAAAA\n"); err == nil {
		t.Fatal("negative size parsed")
	}
	if _, err := ParseCheckpoint("origin\n01\n" + strings.Repeat("A", 44) + "\n"); err == nil {
		t.Fatal("non-canonical size parsed")
	}
}

func TestLeafHashSurvivesJSONLRoundTrip(t *testing.T) {
	events := chainOf(5)
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, events); err != nil { // the export escapes no HTML
		t.Fatal(err)
	}
	back, err := ReadAllJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		a, _ := LeafHash(events[i])
		b, _ := LeafHash(back[i])
		if a != b {
			t.Fatalf("record %d: leaf %s before export, %s after", i+1, a, b)
		}
	}
}

func TestEditedRecordChangesTheRootEvenWithARecomputedChain(t *testing.T) {
	events := chainOf(50)
	root, err := treeOf(t, events).Root(50)
	if err != nil {
		t.Fatal(err)
	}
	// The editor recomputes every hash from the edited record on, so the
	// chain verifies.
	edited := append([]api.AuditEvent(nil), events...)
	edited[9].Reason = "nothing to see"
	for i := 9; i < len(edited); i++ {
		if i > 0 {
			edited[i].PrevHash = edited[i-1].Hash
		}
		edited[i].Hash = Hash(edited[i])
	}
	if rep := Verify(edited); !rep.OK {
		t.Fatalf("the rewritten chain should verify on its own: %v", rep.Err)
	}
	got, err := treeOf(t, edited).Root(50)
	if err != nil {
		t.Fatal(err)
	}
	if got == root {
		t.Fatal("an edited record left the tree's root unchanged")
	}
}

func TestConsistencyRefusesRollbackAndRewrite(t *testing.T) {
	long := treeOf(t, chainOf(20))
	h10, _ := long.Root(10)
	h20, _ := long.Root(20)
	old := Checkpoint{Origin: "o", Size: 20, Hash: h20}
	p, err := tlog.ProveTree(20, 10, long)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckConsistency(Checkpoint{Origin: "o", Size: 10, Hash: h10}, old, p); err != nil {
		t.Fatalf("honest growth refused: %v", err)
	}
	// Rolled back to 10 records.
	if err := CheckConsistency(old, Checkpoint{Origin: "o", Size: 10, Hash: h10}, nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("rollback: %v", err)
	}
	// Rolled back to 10 and rewritten to 25 other records.
	rewritten := chainOf(10)
	for i := 10; i < 25; i++ {
		e := api.AuditEvent{Seq: int64(i + 1), Type: TypePolicyLoaded, Actor: "mallory", PrevHash: rewritten[i-1].Hash}
		e.Hash = Hash(e)
		rewritten = append(rewritten, e)
	}
	rt := treeOf(t, rewritten)
	h25, _ := rt.Root(25)
	p, err = tlog.ProveTree(25, 20, rt)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckConsistency(old, Checkpoint{Origin: "o", Size: 25, Hash: h25}, p); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("rewrite: %v", err)
	}
}

func TestCheckInclusionRefusesAnEditedRecord(t *testing.T) {
	events := chainOf(30)
	m := treeOf(t, events)
	root, _ := m.Root(30)
	cp := Checkpoint{Origin: "o", Size: 30, Hash: root}
	p, err := tlog.ProveRecord(30, 6, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckInclusion(cp, events[6], p); err != nil {
		t.Fatal(err)
	}
	e := events[6]
	e.Detail = map[string]string{"b": "2", "a": "ü", "extra": "x"}
	if CheckInclusion(cp, e, p) == nil {
		t.Fatal("an edited record passed its inclusion proof")
	}
}

// Leaves hash a record's JSON, so a record must encode to the same bytes
// forever: a field added to api.AuditEvent must be omitempty, or every
// older record would re-encode differently and no longer match the tree
// built when it was appended. This golden fails first if that happens.
func TestRecordBytesOfAnOldRecordNeverChange(t *testing.T) {
	e := api.AuditEvent{Seq: 1, Time: time.Date(2026, 5, 1, 9, 0, 0, 5, time.UTC), Type: TypePolicyLoaded, Actor: "server",
		PrevHash: GenesisHash, Hash: GenesisHash}
	b, err := RecordBytes(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"seq":1,"time":"2026-05-01T09:00:00.000000005Z","type":"policy.loaded","actor":"server","prev_hash":"` + GenesisHash + `","hash":"` + GenesisHash + `"}`
	if string(b) != want {
		t.Fatalf("RecordBytes changed for an existing record (a new api.AuditEvent field without omitempty?):\n got %s\nwant %s", b, want)
	}
}
