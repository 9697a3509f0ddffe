package audit

import (
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoints come from the server (or a file) and are untrusted: parsing
// and opening must never panic, and whatever parses must round-trip.
func FuzzOpenCheckpoint(f *testing.F) {
	skey, vkey, _ := GenerateKey("jit.example.com")
	k, _ := ParseKey(skey)
	v, _ := note.NewVerifier(vkey)
	good, _ := SignCheckpoint(Checkpoint{Origin: "jit.example.com", Size: 42}, k.Signer)
	f.Add(good)
	f.Add([]byte("jit.example.com\n1\nAAAA\n\n— jit.example.com AAAA\n"))
	f.Add([]byte("x\n18446744073709551616\n\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if cp, err := ParseCheckpoint(string(msg)); err == nil {
			back, err := ParseCheckpoint(cp.Text())
			if err != nil || back != cp {
				t.Fatalf("%q parsed to %+v, which re-parses to %+v (%v)", msg, cp, back, err)
			}
		}
		if cp, err := OpenCheckpoint(msg, v); err == nil && cp.Origin != v.Name() {
			t.Fatalf("opened a checkpoint of origin %q with key %q", cp.Origin, v.Name())
		}
	})
}
