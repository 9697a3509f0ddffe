package grants

import (
	"context"
	"errors"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/vend"
)

// APIError is the person-facing form of an error the service returns: its
// code, message and hint, the same for every door (the API's status codes
// follow the code; Slack and the page show the message). It returns nil for
// an error it does not know (an internal one).
func APIError(err error) *api.Error {
	var (
		apiErr      *api.Error
		denied      *policy.DeniedError
		invalid     *policy.InvalidError
		conflict    *policy.ConflictError
		transition  *lifecycle.TransitionError
		noTarget    *target.NoTargetError
		vendErr     *vend.Error
		unavailable *store.UnavailableError
	)
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &denied):
		return &api.Error{Code: api.CodeForbidden, Message: denied.Reason, Hint: denied.Hint}
	case errors.As(err, &invalid):
		return &api.Error{Code: api.CodeInvalid, Message: invalid.Reason, Hint: invalid.Hint}
	case errors.As(err, &conflict):
		return &api.Error{Code: api.CodeConflict, Message: conflict.Reason, Hint: conflict.Hint}
	case errors.As(err, &transition):
		return &api.Error{Code: api.CodeConflict, Message: transition.Error(), Hint: "see: jit status"}
	case errors.As(err, &noTarget):
		return &api.Error{Code: api.CodeConflict, Message: noTarget.Error(), Hint: "ask the server's operator; the policy names a kind this server was not set up for"}
	case errors.As(err, &unavailable):
		return &api.Error{Code: api.CodeUnavailable, Message: "the server's store is unavailable: " + unavailable.Reason,
			Hint: "try again in a few seconds; if a change was being made, check it first (jit status) — it may have been saved"}
	case errors.Is(err, store.ErrNotFound):
		return &api.Error{Code: api.CodeNotFound, Message: "no such request", Hint: "list yours with: jit requests"}
	case errors.As(err, &vendErr):
		return &api.Error{Code: api.CodeVendFailed, Message: "STS refused to vend credentials: " + vendErr.Error(), Hint: vendErr.Hint}
	}
	return nil
}

// Refused audits a refusal of the policy (a policy.DeniedError in err) as
// authz.denied with the actor's principal, the door and where it was
// asked; other errors are not audited. Every door calls it for what it
// refuses.
func (s *Service) Refused(ctx context.Context, a Actor, err error, where string) {
	var denied *policy.DeniedError
	var apiErr *api.Error
	if errors.As(err, &apiErr) || !errors.As(err, &denied) {
		return
	}
	ev := audit.Event{Time: s.now(), Type: audit.TypeForbidden, Actor: a.User.ID(), Reason: denied.Error(),
		Detail: map[string]string{"path": where}}
	_ = s.Append(ctx, stamp([]audit.Event{ev}, a)...)
}
