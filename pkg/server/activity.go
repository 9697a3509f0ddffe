package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store"
)

// Activity ingestion limits: a delivery's body and how many events it may
// carry. MinIO posts one entry per call; a CloudTrail forwarder batches.
const (
	maxActivityBody   = 1 << 20
	maxActivityEvents = 1000
	// activitySkew is how far ahead of the server's clock an event may be
	// dated; later times are clamped to it.
	activitySkew = 5 * time.Minute
	// maxKnownKeys bounds the in-memory cache of access key → grant.
	maxKnownKeys = 10000
)

// ActivityOptions configure activity ingestion (docs/concepts.md "Activity").
type ActivityOptions struct {
	// Secret authenticates senders (bearer token or HMAC-SHA256 of the
	// body). Empty: the ingestion endpoints answer 404.
	Secret string
	// Window is how often a grant's calls become one grant.activity audit
	// record [15m].
	Window time.Duration
}

// keyCache remembers access key → grant lookups that succeeded; a mapping
// never changes once stored, so it needs no invalidation, only a bound.
type keyCache struct {
	mu sync.Mutex
	m  map[string]store.KeyGrant
}

func (c *keyCache) get(k string) (store.KeyGrant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.m[k]
	return g, ok
}

func (c *keyCache) put(g store.KeyGrant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxKnownKeys {
		c.m = map[string]store.KeyGrant{}
	}
	c.m[g.AccessKeyID] = g
}

// activityStore is the store's activity side: part of store.Store, so
// every store has it.
func (s *Server) activityStore() store.ActivityStore { return s.opts.Store }

// checkActivityAuth accepts "Authorization: Bearer SECRET" (or the bare
// secret, as MinIO's auth_token may send it) or "X-Jit-Signature:
// sha256=HEX" over the body, comparing in constant time.
func checkActivityAuth(secret string, r *http.Request, body []byte) error {
	if sig := r.Header.Get("X-Jit-Signature"); sig != "" {
		want := hmac.New(sha256.New, []byte(secret))
		want.Write(body)
		got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
		if err != nil || !hmac.Equal(got, want.Sum(nil)) {
			return errors.New("bad X-Jit-Signature")
		}
		return nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return errors.New("no Authorization header or X-Jit-Signature")
	}
	tok := h
	if scheme, rest, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(rest)
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(secret)) != 1 {
		return errors.New("bad activity secret")
	}
	return nil
}

// ingest reads an authenticated delivery, parses it with parse and folds
// the calls into their grants.
func (s *Server) ingest(source string, parse func(ctx context.Context, body []byte) ([]store.Call, int, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		act := s.activityStore()
		secret := s.ActivitySecret()
		if secret == "" || act == nil {
			writeError(w, &api.Error{Code: api.CodeNotFound, Message: "activity ingestion is not configured on this server",
				Hint: "set activity.secret in the server config (docs/concepts.md)"}, http.StatusNotFound)
			return
		}
		// A bearer secret is checked before the body is read: a stranger
		// does not get 1 MiB buffered per connection (only the HMAC needs it).
		var body []byte
		err := checkActivityAuth(secret, r, nil)
		if err == nil || r.Header.Get("X-Jit-Signature") != "" {
			if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxActivityBody)); err != nil {
				writeError(w, &api.Error{Code: api.CodeInvalid, Message: fmt.Sprintf("activity body over %d bytes", maxActivityBody),
					Hint: "send fewer events per delivery"}, http.StatusRequestEntityTooLarge)
				return
			}
			err = checkActivityAuth(secret, r, body)
		} else {
			// Refused unread: close the connection rather than let
			// net/http drain up to 256 KiB of the stranger's body first.
			w.Header().Set("Connection", "close")
		}
		if err != nil {
			s.metrics.authFailed.Inc()
			// Limited and summarised like the API's failures (authfail.go):
			// one audit record per try let anyone flood the log.
			addr := clientAddress(r)
			if wait, blocked := s.authFails.blocked(addr, s.now()); blocked {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
				writeError(w, &api.Error{Code: api.CodeRateLimited, Message: "too many failed authentications from " + addr,
					Hint: "check the sender's activity secret, then wait"}, http.StatusTooManyRequests)
				return
			}
			s.authFails.failed(addr, "activity:"+source+": "+err.Error(), s.now())
			writeError(w, &api.Error{Code: api.CodeUnauthenticated, Message: "activity delivery not authenticated: " + err.Error(),
				Hint: "send Authorization: Bearer <activity.secret>"}, http.StatusUnauthorized)
			return
		}
		calls, received, unmatched, err := parse(r.Context(), body)
		if err != nil {
			var apiErr *api.Error
			if errors.As(err, &apiErr) {
				writeError(w, apiErr, statusFor(apiErr.Code))
				return
			}
			s.log.Error("activity ingestion", "source", source, "err", err)
			writeError(w, &api.Error{Code: api.CodeInternal, Message: "internal error: " + err.Error()}, http.StatusInternalServerError)
			return
		}
		recorded := 0
		if len(calls) > 0 {
			now := s.now()
			for i := range calls {
				calls[i].Received = now // the dedupe window runs from here
			}
			if recorded, err = act.RecordActivity(r.Context(), calls); err != nil {
				s.log.Error("record activity", "source", source, "err", err)
				writeError(w, &api.Error{Code: api.CodeUnavailable, Message: "could not record activity", Hint: "retry"}, http.StatusServiceUnavailable)
				return
			}
		}
		s.metrics.activity.With(source).Add(float64(recorded))
		s.metrics.unmatched.With(source).Add(float64(unmatched))
		writeJSON(w, http.StatusOK, api.IngestResult{Received: received, Recorded: recorded,
			Duplicate: len(calls) - recorded, Unmatched: unmatched})
	}
}

// grantForKey maps an access key to the grant jit vended it for.
func (s *Server) grantForKey(ctx context.Context, key string) (store.KeyGrant, bool, error) {
	if key == "" {
		return store.KeyGrant{}, false, nil
	}
	if g, ok := s.keys.get(key); ok {
		return g, true, nil
	}
	g, err := s.activityStore().GrantForKey(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return g, false, nil
	case err != nil:
		return g, false, err
	}
	s.keys.put(g)
	return g, true, nil
}

// notAfterNow clamps an event's time to the server's now plus
// activitySkew: a sender whose clock runs ahead (or a made-up time) must not
// date a call days ahead and so keep a grant from ever being idle.
func (s *Server) notAfterNow(t time.Time) time.Time {
	if latest := s.now().Add(activitySkew); t.After(latest) {
		return latest
	}
	return t
}

func badActivity(err error) error {
	return &api.Error{Code: api.CodeInvalid, Message: "bad activity body: " + err.Error(),
		Hint: "post MinIO audit entries to /v1/activity/minio and EventBridge CloudTrail events to /v1/activity/cloudtrail"}
}

// withActivity fills the Activity of requests from the store.
func (s *Server) withActivity(ctx context.Context, reqs ...*api.Request) {
	s.grants.WithActivity(ctx, reqs...)
}

// SetActivitySecret replaces the activity senders' secret (a reload of
// activity.secret or its file); "" turns ingestion off.
func (s *Server) SetActivitySecret(secret string) { s.activitySecret.Store(&secret) }

// ActivitySecret is the activity senders' secret in force.
func (s *Server) ActivitySecret() string {
	if p := s.activitySecret.Load(); p != nil {
		return *p
	}
	return s.opts.Activity.Secret
}
