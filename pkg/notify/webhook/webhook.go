// Package webhook delivers jit's events as signed JSON POSTs
// (docs/webhooks.md) and holds the signature scheme, so a Go receiver can
// verify with the same code that signs.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/notify"
	"github.com/jit-access/jit/pkg/ocsf"
)

// Headers of a delivery.
const (
	HeaderSignature      = "X-Jit-Signature"
	HeaderIdempotencyKey = "X-Jit-Idempotency-Key"
	HeaderEvent          = "X-Jit-Event"
)

// DefaultTolerance is the replay window receivers should allow between the
// signature's timestamp and their clock.
const DefaultTolerance = 5 * time.Minute

// Options configure a webhook sink.
type Options struct {
	// Name keys the delivery cursor; keep it stable (default: derived from
	// the URL, so changing the URL starts a new sink at the log's head).
	Name   string
	URL    string
	Secret []byte
	// Events filters by type (empty: all); see notify.MatchType.
	Events []string
	// Format of the body: "jit" or "" (notify.Payload), or "ocsf" (one
	// OCSF event, pkg/ocsf).
	Format    string
	PublicURL string
	Client    *http.Client
	Now       func() time.Time
}

// Sink posts to one URL.
type Sink struct {
	o Options
	// secret is o.Secret until SetSecret rotates it (SIGHUP reload).
	secret atomic.Pointer[[]byte]
}

var _ notify.Sink = (*Sink)(nil)

// New checks the options.
func New(o Options) (*Sink, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("webhook: url must be http(s)")
	}
	if len(o.Secret) == 0 {
		return nil, errors.New("webhook: a secret is required to sign deliveries")
	}
	if o.Format != "" && o.Format != "jit" && o.Format != "ocsf" {
		return nil, fmt.Errorf("webhook: format %q: want jit or ocsf", o.Format)
	}
	if o.Client == nil || o.Now == nil {
		return nil, errors.New("webhook: client and clock are required")
	}
	if o.Name == "" {
		o.Name = DefaultName(o.URL)
	}
	s := &Sink{o: o}
	s.secret.Store(&o.Secret)
	return s, nil
}

// SetSecret rotates the signing secret (an empty one is ignored); the next
// delivery is signed with it.
func (s *Sink) SetSecret(secret []byte) {
	if len(secret) > 0 {
		s.secret.Store(&secret)
	}
}

// DefaultName names a webhook by a hash of its URL (the URL may carry a
// token, and names appear in logs, metrics and the audit log).
func DefaultName(rawURL string) string {
	h := sha256.Sum256([]byte(rawURL))
	return "webhook:" + hex.EncodeToString(h[:6])
}

// Name implements notify.Sink.
func (s *Sink) Name() string { return s.o.Name }

// Wants implements notify.Sink.
func (s *Sink) Wants(typ string) bool { return notify.MatchType(s.o.Events, typ) }

// Deliver implements notify.Sink.
func (s *Sink) Deliver(ctx context.Context, e *api.AuditEvent, key string) error {
	var payload any = notify.NewPayload(e, key, s.o.PublicURL)
	if s.o.Format == "ocsf" {
		payload = ocsf.FromAudit(*e, build.Version)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return notify.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.URL, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "jit-webhook/"+build.Version)
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderIdempotencyKey, key)
	req.Header.Set(HeaderSignature, Sign(*s.secret.Load(), s.o.Now().Unix(), body))
	resp, err := s.o.Client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold a token: keep the cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests || c == http.StatusServiceUnavailable:
		err := fmt.Errorf("webhook answered %d", c)
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			return &notify.RetryAfterError{Err: err, After: time.Duration(secs) * time.Second}
		}
		return err
	case c == http.StatusRequestTimeout || c >= 500:
		return fmt.Errorf("webhook answered %d", c)
	default:
		return notify.Permanent(fmt.Errorf("webhook refused the event: %d", c))
	}
}

// Sign returns the X-Jit-Signature value for body sent at unix time t:
// "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>".
func Sign(secret []byte, t int64, body []byte) string {
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret []byte, t int64, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook signature timestamp outside the replay window")
	ErrMalformed    = errors.New("webhook signature header malformed")
)

// Verify checks an X-Jit-Signature header against the raw body: the HMAC
// (any of several v1= values, for secret rotation) and that its timestamp
// is within tolerance of now. Receivers should also drop repeated
// idempotency keys: a replay inside the window verifies.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var t int64 = -1
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return ErrMalformed
			}
			t = n
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil {
				return ErrMalformed
			}
			sigs = append(sigs, b)
		}
	}
	if t < 0 || len(sigs) == 0 {
		return ErrMalformed
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, t, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
