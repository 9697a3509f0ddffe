package shared

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credserver"
	"github.com/jit-access/jit/pkg/session"
)

// endpoint is exec's credentials endpoint and the watch on its grant.
type endpoint struct {
	srv     *credserver.Server
	cancel  context.CancelFunc
	watched chan struct{}
}

// startEndpoint serves opts.Role's credentials to the child and watches the
// grant c came from: a revoke stops the endpoint at once and wipes the
// cached item, so the child's next refresh fails with jit's message.
func startEndpoint(ctx context.Context, opts *UseOptions, c api.Credentials) (*endpoint, error) {
	s, err := opts.Session()
	if err != nil {
		return nil, err
	}
	role := opts.Role
	var watchDown atomic.Bool
	srv, err := credserver.Start(func(ctx context.Context) (api.Credentials, error) {
		if watchDown.Load() {
			// The watch cannot see a revoke now: ask for the grant
			// before serving. A server that does not answer at all
			// leaves the cached keys served until the grant's end.
			var ended *session.EndedError
			if err := s.CheckGrant(ctx, c.RequestID); errors.As(err, &ended) {
				return api.Credentials{}, fmt.Errorf("%w (%w); try: jit request %s --reason \"...\" --for 1h", err, credserver.ErrGrantEnded, role)
			}
		}
		c, err := s.Credentials(ctx, role)
		if errors.Is(err, session.ErrNoGrant) {
			return api.Credentials{}, fmt.Errorf("%w (%w); try: jit request %s --reason \"...\" --for 1h", err, credserver.ErrGrantEnded, role)
		}
		return c, err
	})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	ep := &endpoint{srv: srv, cancel: cancel, watched: make(chan struct{})}
	go func() {
		defer close(ep.watched)
		err := s.Watch(wctx, c.RequestID, session.WatchOptions{Down: watchDown.Store})
		var ended *session.EndedError
		switch {
		case errors.As(err, &ended):
			srv.Stop(fmt.Errorf("%w; try: jit request %s --reason \"...\" --for 1h", err, role))
		case err != nil && wctx.Err() == nil:
			// The endpoint still refuses after the grant's end (the re-vend
			// fails); only the instant revoke is lost.
			fmt.Fprintf(opts.IO.ErrOut, "jit: not watching the grant any more: %v\n", err)
		}
	}()
	return ep, nil
}

func (e *endpoint) close() {
	e.cancel()
	<-e.watched
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Close(ctx)
}
