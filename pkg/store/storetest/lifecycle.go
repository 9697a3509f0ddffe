package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
)

// NewPending makes a pending request as the server does (lifecycle.New),
// with its request.created event.
func NewPending(id, requester, role string, approvals int, now time.Time) (*api.Request, []audit.Event) {
	return lifecycle.New(lifecycle.NewInput{
		ID: id, Requester: requester,
		Create:   api.CreateRequest{Role: role, Reason: "deploy " + id, Ticket: "OPS-1"},
		Duration: time.Hour, ApprovalsNeeded: approvals, PendingTimeout: 30 * time.Minute,
	}, now)
}

// Approved, Vended and Swept are the server's real transitions
// (lifecycle.Approve, Vended, Sweep) as store mutations; Approve above is a
// bare state change for tests that need no policy timing.
func Approved(by string, now time.Time) store.Mutation {
	return func(r *api.Request) ([]audit.Event, error) {
		return lifecycle.Approve(r, api.User{Subject: by}, "ok", now)
	}
}

func Vended(now time.Time) store.Mutation {
	return func(r *api.Request) ([]audit.Event, error) {
		return lifecycle.Vended(r, r.Requester, "ASIAEXAMPLE", now.Add(15*time.Minute), now)
	}
}

func Swept(now time.Time) store.Mutation {
	return func(r *api.Request) ([]audit.Event, error) { return lifecycle.Sweep(r, now) }
}

// testLifecycleConcurrent drives whole request lifecycles from 8 writers at
// once (create, approve, vend, a free-standing audit event, and for some a
// revoke or a denial), then sweeps what is due, and checks every request's
// final state, the audit events per request and that the chain verifies.
func testLifecycleConcurrent(t *testing.T, s store.Store) {
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("w%d-%02d", w, i)
				if err := runLifecycle(t, s, w, i, id); err != nil {
					errs <- fmt.Errorf("%s: %w", id, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	// Creates, approvals (approval + approved), vends, appends, revokes, denials.
	live := writers * each * 3 / 5
	revoked := writers * each / 5
	denied := writers * each / 5
	want := writers*each + (live+revoked)*(2+1+1) + revoked + denied
	VerifyChain(t, s, want)

	// Every live grant ends within the first 25 s + 1 h: sweep them all.
	sweepAll(t, s, t0.Add(2*time.Hour), live)
	VerifyChain(t, s, want+live)
	checkFinalStates(t, s, live, revoked, denied)
}

// runLifecycle is writer w's i-th request id: created, then denied (every
// fifth), or approved, vended and an audit event appended, and for every
// fifth revoked early.
func runLifecycle(t *testing.T, s store.Store, w, i int, id string) error {
	now := t0.Add(time.Duration(i) * time.Second)
	r, evs := NewPending(id, fmt.Sprintf("user%d@example.com", w), "dev", 1, now)
	if err := s.Create(ctx(t), r, evs); err != nil {
		return err
	}
	if i%5 == 4 { // denied: nothing after
		_, err := s.Update(ctx(t), id, func(r *api.Request) ([]audit.Event, error) {
			return lifecycle.Deny(r, api.User{Subject: "boss"}, "no", now)
		})
		return err
	}
	if _, err := s.Update(ctx(t), id, Approved("boss", now)); err != nil {
		return err
	}
	if _, err := s.Update(ctx(t), id, Vended(now)); err != nil {
		return err
	}
	if err := s.Append(ctx(t), audit.Event{Time: now, Type: audit.TypeRevokeEnforced, Actor: "jit", RequestID: id}); err != nil {
		return err
	}
	if i%5 == 3 { // revoked early
		_, err := s.Update(ctx(t), id, func(r *api.Request) ([]audit.Event, error) {
			return lifecycle.Revoke(r, "boss", "incident", now)
		})
		return err
	}
	return nil
}

// sweepAll sweeps the live grants due at end, checks nothing is due after
// and that a second sweep is refused.
func sweepAll(t *testing.T, s store.Store, end time.Time, live int) {
	t.Helper()
	due, err := s.Due(ctx(t), end, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != live {
		t.Fatalf("Due found %d, want the %d live grants", len(due), live)
	}
	for _, id := range due {
		if _, err := s.Update(ctx(t), id, Swept(end)); err != nil {
			t.Fatal(err)
		}
	}
	if due, _ := s.Due(ctx(t), end, 500); len(due) != 0 {
		t.Fatalf("still due after the sweep: %v", due)
	}
	// A second sweep of the same request is refused by the state machine and
	// writes nothing.
	if _, err := s.Update(ctx(t), "w0-00", Swept(end)); !errors.Is(err, lifecycle.ErrNotDue) {
		t.Fatalf("second sweep: %v, want lifecycle.ErrNotDue", err)
	}
}

// checkFinalStates checks each request's final state and its audit events.
func checkFinalStates(t *testing.T, s store.Store, live, revoked, denied int) {
	t.Helper()
	counts := map[api.State]int{}
	page, _, err := s.List(ctx(t), store.Filter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page {
		counts[r.State]++
		evs, err := s.Audit(ctx(t), store.AuditFilter{RequestID: r.ID})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		var wantTypes []string
		switch r.State {
		case api.StateDenied:
			wantTypes = []string{audit.TypeRequestCreated, audit.TypeRequestDenied}
		case api.StateRevoked:
			wantTypes = []string{audit.TypeRequestCreated, audit.TypeRequestApproval, audit.TypeRequestApproved,
				audit.TypeVended, audit.TypeRevokeEnforced, audit.TypeRevoked}
		case api.StateExpired:
			wantTypes = []string{audit.TypeRequestCreated, audit.TypeRequestApproval, audit.TypeRequestApproved,
				audit.TypeVended, audit.TypeRevokeEnforced, audit.TypeExpired}
		}
		if !slices.Equal(types, wantTypes) {
			t.Errorf("%s (%s): audit %v, want %v", r.ID, r.State, types, wantTypes)
		}
	}
	if counts[api.StateExpired] != live || counts[api.StateRevoked] != revoked || counts[api.StateDenied] != denied {
		t.Errorf("final states %v, want %d expired, %d revoked, %d denied", counts, live, revoked, denied)
	}
}
