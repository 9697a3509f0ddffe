package witness

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/jit-access/jit/pkg/audit"
)

func TestDirFollowsXDGStateHome(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"JIT_WITNESS_DIR": "/w", "XDG_STATE_HOME": "/s", "HOME": "/h"}, "/w"},
		{map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/h"}, "/s/jit/witness"},
		{map[string]string{"HOME": "/h"}, "/h/.local/state/jit/witness"},
	} {
		if got, err := Dir(env(tc.env)); err != nil || got != tc.want {
			t.Errorf("Dir(%v) = %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
}

// The stored checkpoint is re-verified on every load: editing the file (to
// make the client forget what it saw) is an error, not a fresh start.
func TestTamperedWitnessFileIsAnError(t *testing.T) {
	skey, vkey, _ := audit.GenerateKey("jit.example.com")
	k, _ := audit.ParseKey(skey)
	v, _ := note.NewVerifier(vkey)
	w := &Witness{Dir: t.TempDir()}
	msg, err := audit.SignCheckpoint(audit.Checkpoint{Origin: "jit.example.com", Size: 9}, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	const server = "https://jit.example.com:8443/base"
	if err := w.Save(server, v, msg); err != nil {
		t.Fatal(err)
	}
	cp, _, ok, err := w.Load(server, v)
	if err != nil || !ok || cp.Size != 9 {
		t.Fatalf("load: %v %v %v", cp, ok, err)
	}
	matches, _ := filepath.Glob(filepath.Join(w.Dir, "*", "*.checkpoint"))
	if len(matches) != 1 {
		t.Fatalf("checkpoint files %v", matches)
	}
	b, _ := os.ReadFile(matches[0])
	b[len("jit.example.com\n")] = '1' // size 9 → 1
	if err := os.WriteFile(matches[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := w.Load(server, v); err == nil {
		t.Fatal("a tampered witness file loaded")
	}
	// Another server's state is separate.
	if _, _, ok, err := w.Load("https://other.example.com", v); ok || err != nil {
		t.Fatalf("other server: ok %v err %v", ok, err)
	}
}
