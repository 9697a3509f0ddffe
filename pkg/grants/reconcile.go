package grants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/target"
)

// DefaultReconcileEvery is how often the sweep reconciles the targets that
// create something, when Options.ReconcileEvery is unset.
const DefaultReconcileEvery = time.Minute

// Reconciled counts what a Reconcile did.
type Reconciled struct {
	// Removed: created at a target, owned by no live grant, ended there.
	Removed int
	// Started: live grants the target did not list, started again.
	Started int
}

// Reconcile compares what each target that creates something
// (target.Reconciler) lists with the store: it ends at the target what no
// live grant owns (a crash between a directory write and the store's
// record, an end the target missed while it was down) and starts again the
// live grants whose access the target does not list (a crash between the
// store's record and the target's start). Each removal is audited as
// grant.access_reconciled. The server runs it at start and the sweep runs
// it every ReconcileEvery.
func (s *Service) Reconcile(ctx context.Context) (Reconciled, error) {
	var out Reconciled
	var errs []error
	started := s.now()
	s.lastReconcile.Store(&started)
	for _, t := range s.o.Targets.All() {
		rc, ok := t.(target.Reconciler)
		if !ok {
			continue
		}
		if err := s.reconcile(ctx, rc, &out); err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", t.Kind(), err))
		}
	}
	return out, errors.Join(errs...)
}

func (s *Service) reconcile(ctx context.Context, rc target.Reconciler, out *Reconciled) error {
	created, err := rc.Created(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	owned := map[string]bool{}
	var errs []error
	for _, c := range created {
		req, err := s.st.Get(ctx, c.RequestID)
		switch {
		case err == nil && req.State.Granted() && now.Before(req.EndsAt):
			owned[c.RequestID] = true
			continue
		case err != nil && !errors.Is(err, store.ErrNotFound):
			errs = append(errs, err)
			continue
		}
		ended, err := rc.Remove(ctx, c, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ended.Done {
			continue
		}
		out.Removed++
		ev := audit.Event{Time: now, Type: audit.TypeAccessReconciled, Actor: "server", RequestID: c.RequestID,
			Reason: "no live grant owns it", Detail: map[string]string{"kind": rc.Kind(), "id": c.ID}}
		for k, v := range ended.Detail {
			ev.Detail[k] = v
		}
		if req != nil {
			ev.Subject, ev.Role = req.Requester, req.Role
			ev.Reason = "the grant is " + string(req.State)
		}
		s.log.Warn("access reconciled: ended at the target what no live grant owns", "kind", rc.Kind(), "request", c.RequestID, "id", c.ID)
		if err := s.Append(ctx, ev); err != nil {
			errs = append(errs, err)
		}
	}
	// Live grants started at this kind (as they recorded it, whatever the
	// policy says now) that the target does not list.
	err = s.liveGrants(ctx, nil, func(r *api.Request) {
		if owned[r.ID] {
			return
		}
		if _, t, err := s.grantOf(r, api.User{}); err != nil || t.Kind() != rc.Kind() {
			return
		}
		s.started(ctx, r, api.User{})
		out.Started++
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reconcileDue runs Reconcile from the sweep when ReconcileEvery passed.
func (s *Service) reconcileDue(ctx context.Context, now time.Time) {
	last := s.lastReconcile.Load()
	if last != nil && now.Sub(*last) < s.o.ReconcileEvery {
		return
	}
	if _, err := s.Reconcile(ctx); err != nil {
		s.log.Warn("reconcile targets", "err", err)
	}
}
