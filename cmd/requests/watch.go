package requests

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/session"
)

// watchGrants follows every live grant in reqs with the server's long-poll
// and, the moment one is revoked or ends, prints it and wipes its cached
// credentials (session.WatchGrant does the wiping). It returns when all have
// ended or ctx is done.
func watchGrants(ctx context.Context, opts *Options, s *session.Session, reqs []api.Request) error {
	now := opts.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	n := 0
	for _, r := range reqs {
		if r.Remaining(now) <= 0 {
			continue
		}
		n++
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.WatchGrant(ctx, r.ID, 0, 0, nil)
			mu.Lock()
			defer mu.Unlock()
			var ended *session.EndedError
			switch {
			case errors.As(err, &ended):
				fmt.Fprintf(opts.IO.Out, "%s: %s; its cached credentials are wiped.\n", r.ID, ended)
			case err != nil && ctx.Err() == nil:
				errs = append(errs, err)
			}
		}()
	}
	if n == 0 {
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "Watching %d live grant(s); Ctrl-C to stop.\n", n)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
