package webapp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// session is what a signed-in person's cookie holds, sealed with
// AES-256-GCM: the browser can neither read the ID token nor forge or alter
// any field. It needs no server-side state, so it works across replicas that
// share web.session_key.
type session struct {
	// IDToken is the bearer the app presents to the grants service's
	// verifier on every page.
	IDToken string `json:"t"`
	// Issuer and Subject are the principal who signed in: the token must
	// still verify as them on every page (the session is bound to them).
	Issuer  string `json:"i"`
	Subject string `json:"s"`
	// AuthTime is when the user last typed their credentials at the IdP.
	AuthTime int64 `json:"a"`
	// Expires is the token's expiry: the session ends with it.
	Expires int64 `json:"e"`
	// CSRF is the per-session token every form must echo.
	CSRF string `json:"c"`
}

// loginState ties a callback to the browser that started the sign-in.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"`
	// Fresh: the IdP was asked to re-authenticate (a decision waits), so
	// the callback refuses an older sign-in.
	Fresh bool `json:"f"`
}

// sealer encrypts and authenticates cookie values; the cookie's name is the
// associated data, so one cookie's value cannot be replayed as another.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("session key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

var errBadCookie = errors.New("cookie does not open")

func (s *sealer) open(name, value string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(data) < s.aead.NonceSize() {
		return errBadCookie
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, data[:n], data[n:], []byte(name))
	if err != nil {
		return errBadCookie
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errBadCookie
	}
	return nil
}

// randomToken is 32 bytes from crypto/rand, base64url.
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// cookieNames: over https the __Host- prefix makes the browser insist on
// Secure, Path=/ and no Domain, so no sibling host can plant one.
func cookieNames(secure bool) (sessionName, loginName string) {
	if secure {
		return "__Host-jit-web", "__Host-jit-web-login"
	}
	return "jit-web", "jit-web-login"
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, Secure: h.secure,
		// Lax, not Strict: the IdP's redirect back to the callback and a
		// link from Slack or mail are cross-site top-level navigations that
		// must carry the cookies. Every POST is CSRF-checked regardless.
		SameSite: http.SameSiteLaxMode,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}
