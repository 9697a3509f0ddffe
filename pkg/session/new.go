package session

import (
	"context"
	"net/http"
	"time"

	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/filelock"
)

// New is the production session on server with cache: silent OIDC refresh
// over hc and the cross-process lock that makes a burst of callers vend once.
func New(server string, cache *credcache.Cache, hc *http.Client, now func() time.Time) *Session {
	prefix := credcache.ServerHash(server) + "-"
	return &Session{
		Server:     server,
		Cache:      cache,
		HTTPClient: hc,
		Refresh:    OIDCRefresher(hc, now),
		Lock: func(ctx context.Context, name string, timeout time.Duration) (func(), error) {
			return filelock.Acquire(ctx, prefix+name, timeout)
		},
		Now: now,
	}
}
