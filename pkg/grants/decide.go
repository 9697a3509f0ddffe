package grants

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
)

// decide runs a policy check and a lifecycle transition on one request the
// actor may see.
func (s *Service) decide(ctx context.Context, a Actor, id string,
	check func(p *policy.Policy, req *api.Request) error,
	transition func(req *api.Request, now time.Time) ([]audit.Event, error)) (*api.Request, error) {
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	p := s.Policy()
	req, err := s.update(ctx, a, id, func(req *api.Request) ([]audit.Event, error) {
		if err := emailOnlyCanTell(a.User, req); err != nil {
			return nil, err
		}
		if err := check(p, req); err != nil {
			return nil, err
		}
		return transition(req, s.now())
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("request changed", "id", id, "by", a.User.ID(), "state", req.State, "via", a.Via)
	return req, nil
}

// emailOnlyCanTell refuses a decision by an identity known only by its
// email (a Slack account) on a request whose requester's token carried no
// verified email: the two cannot be told apart, so the decider could be
// the requester.
func emailOnlyCanTell(u api.User, req *api.Request) error {
	if u.Issuer == api.SlackIssuer && req.RequesterEmail == "" {
		return &policy.DeniedError{Reason: "the requester's token carried no verified email, so a Slack decision cannot rule out self-approval",
			Hint: "decide on the approver page or with jit approve / jit deny"}
	}
	return nil
}

// ExtensionWaiting reports whether a decision on req is about its waiting
// extension rather than the request itself.
func ExtensionWaiting(req *api.Request) bool {
	return req.State.Granted() && req.PendingExtension != nil
}

// Approve approves a pending request, or the waiting extension of a live
// grant (same approvers, same not-self and N-of-M rules), as the approver
// saw it at version seen (the request's Version they were shown): what
// was asked for after that version is not approved (checkSeen). The
// approval that completes a request starts its grant at the target.
func (s *Service) Approve(ctx context.Context, a Actor, id string, seen int64, comment string) (*api.Request, error) {
	u := a.User
	wasPending := false
	var checked *policy.Policy // the policy the approval was checked with
	req, err := s.decide(ctx, a, id, func(p *policy.Policy, req *api.Request) error {
		checked = p
		if ExtensionWaiting(req) {
			if err := p.CanDecideExtension(u, req); err != nil {
				return err
			}
			if err := checkSeen(req, seen); err != nil {
				return err
			}
			return p.CheckExtensionStillFits(req)
		}
		if err := p.CanApprove(u, req); err != nil {
			return err
		}
		return checkSeen(req, seen)
	}, func(req *api.Request, now time.Time) ([]audit.Event, error) {
		wasPending = req.State == api.StatePending
		if ExtensionWaiting(req) {
			return lifecycle.ApproveExtension(req, u, comment, now)
		}
		events, err := lifecycle.Approve(req, u, comment, now)
		if err == nil {
			err = recordTarget(checked, req)
		}
		return events, err
	})
	if err == nil && wasPending {
		s.started(ctx, req, u)
	}
	return req, err
}

// Deny denies a pending request, or the waiting extension of a live grant
// (the grant keeps its end), as the approver saw it at version seen (as
// Approve). A denial needs a reason.
func (s *Service) Deny(ctx context.Context, a Actor, id string, seen int64, comment string) (*api.Request, error) {
	u := a.User
	return s.decide(ctx, a, id, func(p *policy.Policy, req *api.Request) error {
		var err error
		if ExtensionWaiting(req) {
			err = p.CanDecideExtension(u, req)
		} else {
			err = p.CanDeny(u, req)
		}
		if err != nil {
			return err
		}
		return checkSeen(req, seen)
	}, func(req *api.Request, now time.Time) ([]audit.Event, error) {
		if strings.TrimSpace(comment) == "" {
			return nil, &policy.InvalidError{Field: "comment", Reason: "a denial needs a reason", Hint: "jit deny ID --reason TEXT"}
		}
		if ExtensionWaiting(req) {
			return lifecycle.DenyExtension(req, u, comment, now)
		}
		return lifecycle.Deny(req, u, comment, now)
	})
}

// Cancel ends a pending request at its requester's (or an admin's) wish.
func (s *Service) Cancel(ctx context.Context, a Actor, id, comment string) (*api.Request, error) {
	u := a.User
	return s.decide(ctx, a, id, func(p *policy.Policy, req *api.Request) error { return p.CanCancel(u, req) },
		func(req *api.Request, now time.Time) ([]audit.Event, error) {
			return lifecycle.Cancel(req, u.ID(), comment, now)
		})
}

// Revoke ends a live grant early, then ends its access at the target (an
// IAM role's inline Deny) and writes its last activity record.
func (s *Service) Revoke(ctx context.Context, a Actor, id, comment string) (*api.Request, error) {
	u := a.User
	req, err := s.decide(ctx, a, id, func(p *policy.Policy, req *api.Request) error { return p.CanRevoke(u, req) },
		func(req *api.Request, now time.Time) ([]audit.Event, error) {
			return lifecycle.Revoke(req, u.ID(), comment, now)
		})
	if err != nil {
		return nil, err
	}
	// The revoke is stored: what follows must finish even if the caller
	// goes away.
	ctx = context.WithoutCancel(ctx)
	s.ended(ctx, req, true)
	s.flushActivity(ctx, req.ID)
	return req, nil
}

// Extend moves a live grant's end by `by`. Past the limit that let the
// grant skip approvers, the requester alone never extends it: the
// extension waits for approvers (waiting is true) and the grant keeps its
// end until they agree.
func (s *Service) Extend(ctx context.Context, a Actor, id string, by time.Duration, reason string) (req *api.Request, waiting bool, err error) {
	u := a.User
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, false, err
	}
	p := s.Policy()
	req, err = s.update(ctx, a, id, func(req *api.Request) ([]audit.Event, error) {
		waiting = false
		if err := p.CheckExtend(u, req, by); err != nil {
			return nil, err
		}
		if needed, why := p.ExtensionApproval(u, req, by); needed > 0 {
			waiting = true
			return lifecycle.RequestExtension(req, u.ID(), by, reason, needed, why, s.now())
		}
		return lifecycle.Extend(req, u.ID(), by, reason, s.now())
	})
	if err != nil {
		return nil, false, err
	}
	return req, waiting, nil
}

// ExtensionDuration turns a wire extension in seconds into a duration,
// refusing one so long that it would wrap around.
func ExtensionDuration(seconds int64) (time.Duration, error) {
	if seconds > int64(math.MaxInt64/time.Second) {
		return 0, &policy.InvalidError{Field: "duration", Reason: "the extension is longer than any grant can be",
			Hint: "ask for --by 30m, for example"}
	}
	return time.Duration(seconds) * time.Second, nil
}

// Review records the actor's verdict on a grant that needs a review.
func (s *Service) Review(ctx context.Context, a Actor, id string, verdict api.Verdict, note string) (*api.Request, error) {
	u := a.User
	switch {
	case verdict != api.VerdictOK && verdict != api.VerdictConcern:
		return nil, &policy.InvalidError{Field: "verdict", Reason: "verdict must be ok or concern", Hint: "jit review ID --ok | --concern --note TEXT"}
	case verdict == api.VerdictConcern && strings.TrimSpace(note) == "":
		return nil, &policy.InvalidError{Field: "note", Reason: "a concern needs a note saying what is wrong", Hint: "jit review ID --concern --note TEXT"}
	case len(note) > lifecycle.MaxReviewNote:
		return nil, &policy.InvalidError{Field: "note", Reason: "the note is too long", Hint: "keep it under 2000 characters"}
	}
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	p := s.Policy()
	req, err := s.update(ctx, a, id, func(req *api.Request) ([]audit.Event, error) {
		if err := p.CanReview(u, req); err != nil {
			return nil, err
		}
		return lifecycle.Review(req, u.ID(), verdict, note, s.now())
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("grant reviewed", "id", id, "by", u.ID(), "verdict", verdict, "via", a.Via)
	return req, nil
}
