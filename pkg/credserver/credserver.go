// Package credserver is the local credentials endpoint `jit exec` gives its
// child: the container-credentials protocol the AWS SDKs and CLI speak
// (AWS_CONTAINER_CREDENTIALS_FULL_URI + AWS_CONTAINER_AUTHORIZATION_TOKEN), on
// a random loopback port with a random token, so no static keys sit in the
// child's environment. Every request is answered from the grant's live
// credentials (re-vended across STS expiry while the grant lives); once the
// grant ends or is revoked the endpoint refuses with jit's message.
package credserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// Env var names the AWS SDKs read.
const (
	FullURIVar   = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	AuthTokenVar = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
)

// Source returns the credentials to serve now.
type Source func(ctx context.Context) (api.Credentials, error)

// Server is one endpoint for one grant.
type Server struct {
	source Source
	token  string
	path   string
	ln     net.Listener
	srv    *http.Server

	mu      sync.Mutex
	stopped error // non-nil once the grant has ended
}

// Start listens on 127.0.0.1 (a random port) and serves source. Close it
// when the child exits.
func Start(source Source) (*Server, error) {
	token, err := random(32)
	if err != nil {
		return nil, err
	}
	path, err := random(16)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the credentials endpoint: %w", err)
	}
	s := &Server{source: source, token: token, path: "/creds/" + path, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc(s.path, s.serve)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      70 * time.Second, // a re-vend may wait for another process's lock
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// URL is the full URI to give the child.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + s.path }

// Env is the child's variables for the endpoint.
func (s *Server) Env() [][2]string {
	return [][2]string{{FullURIVar, s.URL()}, {AuthTokenVar, s.token}}
}

// Stop makes every later request fail with err (the grant has ended).
func (s *Server) Stop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped == nil {
		s.stopped = err
	}
}

// Stopped returns why the endpoint refuses, or nil.
func (s *Server) Stopped() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Close shuts the listener down, waiting up to ctx for requests in flight.
func (s *Server) Close(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// document is the container-credentials response the SDKs parse.
type document struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

// Failure is the error body: the SDKs show it in their error message.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "jit: the credentials endpoint answers GET only")
		return
	}
	got := r.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
		fail(w, http.StatusUnauthorized, api.CodeUnauthenticated, "jit: wrong or missing authorization token for the credentials endpoint")
		return
	}
	if err := s.Stopped(); err != nil {
		fail(w, http.StatusForbidden, "grant_ended", "jit: "+err.Error())
		return
	}
	c, err := s.source(r.Context())
	if err != nil {
		status, code := classify(err)
		fail(w, status, code, "jit: "+err.Error())
		return
	}
	if err := s.Stopped(); err != nil { // the watch saw the end while we vended
		fail(w, http.StatusForbidden, "grant_ended", "jit: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(document{
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken,
		Expiration: c.Expiration.UTC().Truncate(time.Second).Format(time.RFC3339),
	})
}

// ErrGrantEnded marks a source error that means no grant lives: 403.
var ErrGrantEnded = errors.New("grant ended")

func classify(err error) (int, string) {
	if errors.Is(err, ErrGrantEnded) {
		return http.StatusForbidden, "grant_ended"
	}
	return http.StatusBadGateway, "unavailable"
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Failure{Code: code, Message: msg})
}
