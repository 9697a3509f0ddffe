package shared

import (
	"context"
	"errors"
	"fmt"
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
	srv, err := credserver.Start(func(ctx context.Context) (api.Credentials, error) {
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
		err := s.WatchGrant(wctx, c.RequestID, 0, 0, nil)
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
