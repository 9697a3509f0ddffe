package session

import (
	"context"
	"errors"
	"fmt"
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
// that cannot be reached is retried every retry [1s]; other errors end the
// watch. wait bounds one long-poll [50s].
func (s *Session) WatchGrant(ctx context.Context, id string, wait, retry time.Duration, changed func(*api.Request)) error {
	if wait <= 0 {
		wait = 50 * time.Second
	}
	if retry <= 0 {
		retry = time.Second
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	var seen int64 = -1
	for {
		var r *api.Request
		if seen < 0 {
			r, err = client.Get(ctx, id)
		} else {
			r, err = client.WaitChange(ctx, id, seen, wait)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ue *apiclient.UnreachableError
			if !errors.As(err, &ue) && !apiclient.IsCode(err, api.CodeUnavailable) {
				return fmt.Errorf("watch grant %s: %w", id, err)
			}
			t := time.NewTimer(retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		if changed != nil && r.Version != seen {
			changed(r)
		}
		seen = r.Version
		ended, err := s.WipeIfEnded(ctx, r)
		if err != nil {
			return fmt.Errorf("wipe the ended grant's credentials: %w", err)
		}
		if ended {
			return &EndedError{Role: r.Role, Request: *r}
		}
	}
}
