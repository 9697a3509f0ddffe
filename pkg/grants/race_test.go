package grants_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
)

// pauseFirstStart makes the rig's next Start at the directory wait, before
// it writes, until the returned release is called; reached is closed when
// it waits.
func pauseFirstStart(r *ldapRig) (reached <-chan struct{}, release func()) {
	at, goOn := make(chan struct{}), make(chan struct{})
	first := true
	r.startHook = func() {
		if !first {
			return
		}
		first = false
		close(at)
		<-goOn
	}
	return at, func() { close(goOn) }
}

// TestRevokeDuringTheApprovalsStartLeavesNoAccess: the approval is stored,
// and while its Start at the directory waits, carol revokes the grant (the
// revoke is stored and its end at the directory finds nothing yet). When
// the Start goes on it adds alice, and the service, reading the request
// again, ends her membership: a revoke never loses to a concurrent
// approval (real slapd, real SQLite).
func TestRevokeDuringTheApprovalsStartLeavesNoAccess(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRig(t)
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "ops", Reason: "on call"})
	if err != nil {
		t.Fatal(err)
	}
	reached, release := pauseFirstStart(r)
	approved := make(chan error, 1)
	go func() {
		_, err := r.svc.Approve(ctx, api_(p.bob), req.ID, req.Version, "ok")
		approved <- err
	}()
	<-reached
	if _, err := r.svc.Revoke(ctx, api_(p.carol), req.ID, "wrong person"); err != nil {
		t.Fatalf("revoke while the start waits: %v", err)
	}
	release()
	if err := <-approved; err != nil {
		t.Fatalf("approve: %v", err)
	}
	if m := r.members(); slices.Contains(m, testenv.LDAPPersonDN("alice")) {
		t.Fatalf("alice is a member of ops after her grant was revoked: %v", m)
	}
	if got, _ := r.st.Get(ctx, req.ID); got.State != api.StateRevoked {
		t.Fatalf("state %s, want revoked", got.State)
	}
}

// TestRevokeDuringTheReconcilesRestartLeavesNoAccess: the reconcile finds
// a live grant the directory does not list (its marker is gone) and starts
// it again; while that Start waits, the grant is revoked. The membership
// the Start adds is ended again.
func TestRevokeDuringTheReconcilesRestartLeavesNoAccess(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRig(t)
	ctx := context.Background()
	req := r.grant(p.alice, p.bob)
	alice := testenv.LDAPPersonDN("alice")
	r.dir.Modify(t, "dn: "+testenv.LDAPGroupDN("ops")+"\nchangetype: modify\ndelete: member\nmember: "+alice+"\n-\ndelete: description\n")
	if slices.Contains(r.members(), alice) {
		t.Fatal("test setup: alice should be out of the group")
	}
	reached, release := pauseFirstStart(r)
	reconciled := make(chan error, 1)
	go func() {
		n, err := r.svc.Reconcile(ctx)
		if err == nil && n.Started != 1 {
			t.Errorf("reconcile started %d grants, want 1", n.Started)
		}
		reconciled <- err
	}()
	<-reached
	if _, err := r.svc.Revoke(ctx, api_(p.alice), req.ID, "done"); err != nil {
		t.Fatalf("revoke while the reconcile's start waits: %v", err)
	}
	release()
	if err := <-reconciled; err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	if m := r.members(); slices.Contains(m, alice) {
		t.Fatalf("alice is a member of ops after her grant was revoked: %v", m)
	}
}
