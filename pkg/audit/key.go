package audit

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is the server's checkpoint signing key and its verifier key, the text
// clients pin.
type Key struct {
	Signer      note.Signer
	VerifierKey string // note's verifier key text: name+hash+base64
}

// ParseKey reads a signing key in note's text format (PRIVATE+KEY+name+
// hash+data, as GenerateKey writes it) and derives its verifier key.
func ParseKey(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("parse checkpoint signing key: %w", err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>; base64 may hold '+'.
	rest := skey
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("checkpoint signing key is not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: signer, VerifierKey: vkey}, nil
}

// LoadKey reads a signing key file (audit.signing_key_file), made by
// `jit server keygen`.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint signing key: %w", err)
	}
	return ParseKey(string(b))
}
