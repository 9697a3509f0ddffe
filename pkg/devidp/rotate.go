package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Key rotation, as an IdP does it: a new signing key signs every token from
// then on, and the JWKS publishes it beside the keys before it, so tokens
// signed earlier still verify.

// rsaKey is a signing key and, through publicKey, its JWKS entry.
type rsaKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *rsaKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rsaKey) Key() any                                    { return k.key }
func (k *rsaKey) ID() string                                  { return k.id }

type publicKey struct{ k *rsaKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }

// rotation holds the keys added by RotateKey (none: the example storage's
// one key signs).
type rotation struct {
	mu   sync.Mutex
	keys []*rsaKey // oldest first; the last signs
}

// SigningKey implements op.Storage: the newest key.
func (s *deviceStorage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	s.rot.mu.Lock()
	defer s.rot.mu.Unlock()
	if n := len(s.rot.keys); n > 0 {
		return s.rot.keys[n-1], nil
	}
	return s.Storage.SigningKey(ctx)
}

// KeySet implements op.Storage: the first key and every rotated one.
func (s *deviceStorage) KeySet(ctx context.Context) ([]op.Key, error) {
	keys, err := s.Storage.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	s.rot.mu.Lock()
	defer s.rot.mu.Unlock()
	for _, k := range s.rot.keys {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

// RotateKey makes a new RSA key (with a new key id) sign every token from
// now on; the JWKS serves it beside the older keys. It returns the new key
// id. jit dev never rotates; tests do, to check what a server that cached
// the old JWKS does with the new key's tokens.
func (p *Provider) RotateKey() (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("devidp: new signing key: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	k := &rsaKey{id: "devidp-" + hex.EncodeToString(b[:]), key: key}
	p.store.rot.mu.Lock()
	p.store.rot.keys = append(p.store.rot.keys, k)
	p.store.rot.mu.Unlock()
	return k.id, nil
}
