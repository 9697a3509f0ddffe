package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// NewRequest returns a pending request created at created.
func NewRequest(id, requester, role string, created time.Time) *api.Request {
	return &api.Request{
		ID: id, Requester: requester, Role: role, Reason: "deploy " + id,
		DurationSeconds: 3600, State: api.StatePending, ApprovalsNeeded: 1,
		CreatedAt: created, UpdatedAt: created, PendingUntil: created.Add(time.Hour),
	}
}

// CreatedEvent is the audit event of a new request.
func CreatedEvent(r *api.Request) audit.Event {
	return audit.Event{Time: r.CreatedAt, Type: audit.TypeRequestCreated, Actor: r.Requester,
		Subject: r.Requester, Role: r.Role, RequestID: r.ID, Reason: r.Reason}
}

// Approve is a mutation that approves a pending request and refuses
// anything else, as the server's state machine does.
func Approve(by string, at time.Time) store.Mutation {
	return func(r *api.Request) ([]audit.Event, error) {
		if r.State != api.StatePending {
			return nil, fmt.Errorf("request %s is %s, not pending", r.ID, r.State)
		}
		r.State = api.StateApproved
		r.Approvals = append(r.Approvals, api.Decision{By: by, Approve: true, At: at})
		r.StartsAt, r.EndsAt, r.UpdatedAt = at, at.Add(r.Duration()), at
		return []audit.Event{{Time: at, Type: audit.TypeRequestApproved, Actor: by, Subject: r.Requester,
			Role: r.Role, RequestID: r.ID}}, nil
	}
}

func mustCreate(t *testing.T, s store.Store, r *api.Request) {
	t.Helper()
	if err := s.Create(ctx(t), r, []audit.Event{CreatedEvent(r)}); err != nil {
		t.Fatalf("create %s: %v", r.ID, err)
	}
}

// AllAudit reads the whole audit log, page by page.
func AllAudit(t *testing.T, s store.Store) []api.AuditEvent {
	t.Helper()
	var out []api.AuditEvent
	var after int64
	for {
		page, err := s.Audit(ctx(t), store.AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			t.Fatalf("audit: %v", err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// VerifyChain fails the test unless the store's whole audit log is an
// intact chain of want records.
func VerifyChain(t *testing.T, s store.Store, want int) {
	t.Helper()
	evs := AllAudit(t, s)
	r := audit.Verify(evs)
	if !r.OK {
		t.Fatalf("audit chain broken: %v", r.Err)
	}
	if r.Count != want {
		t.Fatalf("audit log has %d records, want %d", r.Count, want)
	}
}
