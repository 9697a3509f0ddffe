package session

import (
	"context"

	"github.com/jit-access/jit/pkg/api"
)

// WipeGrantCredentials is the one place the CLI wipes cached credentials
// because of what happened to their grant (it ended, was revoked, was
// extended): it deletes role's cached item when stale reports true for the
// grant (request ID) the item came from, so a newer grant's item stays. An
// item that cannot be read is deleted too: nothing shows it belongs to a live
// grant. It reports whether an item was deleted.
func (s *Session) WipeGrantCredentials(ctx context.Context, role string, stale func(requestID string) bool) (bool, error) {
	c, ok, err := s.Cache.GetCredentials(ctx, s.Server, role)
	if err == nil && (!ok || !stale(c.RequestID)) {
		return false, nil
	}
	if err := s.Cache.DeleteCredentials(ctx, s.Server, role); err != nil {
		return false, err
	}
	return true, nil
}

// WipeIfEnded deletes the cached credentials of r's role when r is a grant
// that no longer lives at now and the cached item is r's (or names no grant;
// a newer grant's item stays). It reports whether r has ended.
func (s *Session) WipeIfEnded(ctx context.Context, r *api.Request) (ended bool, err error) {
	if r == nil || r.Remaining(s.now()) > 0 || r.State == api.StatePending {
		return false, nil
	}
	_, err = s.WipeGrantCredentials(ctx, r.Role, func(id string) bool { return id == "" || id == r.ID })
	return true, err
}
