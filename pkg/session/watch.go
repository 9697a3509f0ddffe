package session

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
)

// EndedError says a grant is over (revoked, expired, cancelled) and how,
// with the message a jit user recognises.
type EndedError struct {
	Role    string
	Request api.Request
}

func (e *EndedError) Error() string {
	r := e.Request
	switch {
	case r.State == api.StateRevoked && r.EndedBy != "":
		msg := fmt.Sprintf("the grant %s for role %s was revoked by %s", r.ID, e.Role, r.EndedBy)
		if r.EndReason != "" {
			msg += ": " + r.EndReason
		}
		return msg
	case r.State.Granted():
		return fmt.Sprintf("the grant %s for role %s ended at %s", r.ID, e.Role, r.EndsAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("the grant %s for role %s is %s", r.ID, e.Role, r.State)
}

// Is makes an ended grant a missing grant, so callers that handle
// ErrNoGrant (exit code, "Try: jit request") handle this too.
func (e *EndedError) Is(target error) bool { return target == ErrNoGrant }

// WatchGrant follows grant id with the server's long-poll until it ends or
// ctx is done. Each change is passed to changed (may be nil); when the grant
// ends (revoked, expired, cancelled, or its end passes) the cached
// credentials are wiped and an *EndedError is returned at once. A server
// that cannot be reached, answers 5xx or 429 (a proxy's hiccup, a restart)
// is retried with backoff from retry [1s] up to a minute, with jitter;
// other errors end the watch. wait bounds one long-poll [50s].
func (s *Session) WatchGrant(ctx context.Context, id string, wait, retry time.Duration, changed func(*api.Request)) error {
	return s.Watch(ctx, id, WatchOptions{Wait: wait, Retry: retry, Changed: changed})
}

// WatchOptions tune Watch.
type WatchOptions struct {
	Wait, Retry time.Duration
	Changed     func(*api.Request)
	// Down, when set, is told when the watch loses the server (true) and
	// when it follows the grant again (false).
	Down func(bool)
}

// maxWatchBackoff bounds the wait between retries of a failing watch.
const maxWatchBackoff = time.Minute

// Retryable reports whether a failed call to the server is worth retrying:
// not reached, or an answer that says "later" (5xx, 429).
func Retryable(err error) bool {
	var ue *apiclient.UnreachableError
	var se *apiclient.ServerError
	switch {
	case errors.As(err, &ue):
		return true
	case errors.As(err, &se):
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests || se.Body.Code == api.CodeUnavailable || se.Body.Code == api.CodeRateLimited
	}
	return false
}

// Watch is WatchGrant with options.
func (s *Session) Watch(ctx context.Context, id string, o WatchOptions) error {
	if o.Wait <= 0 {
		o.Wait = 50 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	down := func(bool) {}
	if o.Down != nil {
		down = o.Down
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	var seen int64 = -1
	backoff := o.Retry
	for {
		var r *api.Request
		if seen < 0 {
			r, err = client.Get(ctx, id)
		} else {
			r, err = client.WaitChange(ctx, id, seen, o.Wait)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !Retryable(err) {
				return fmt.Errorf("watch grant %s: %w", id, err)
			}
			down(true)
			// Full jitter over [backoff/2, backoff): replicas of one
			// client do not retry in step.
			d := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, maxWatchBackoff)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		backoff = o.Retry
		if o.Changed != nil && r.Version != seen {
			o.Changed(r)
		}
		seen = r.Version
		ended, err := s.WipeIfEnded(ctx, r)
		if err != nil {
			return fmt.Errorf("wipe the ended grant's credentials: %w", err)
		}
		if ended {
			return &EndedError{Role: r.Role, Request: *r}
		}
		down(false)
	}
}

// CheckGrant asks the server for grant id once: an *EndedError when it has
// ended (its cached credentials are wiped), nil when it lives, and the
// call's error when the server did not answer.
func (s *Session) CheckGrant(ctx context.Context, id string) error {
	client, err := s.API()
	if err != nil {
		return err
	}
	r, err := client.Get(ctx, id)
	if err != nil {
		return err
	}
	ended, err := s.WipeIfEnded(ctx, r)
	if err != nil {
		return fmt.Errorf("wipe the ended grant's credentials: %w", err)
	}
	if ended {
		return &EndedError{Role: r.Role, Request: *r}
	}
	return nil
}
