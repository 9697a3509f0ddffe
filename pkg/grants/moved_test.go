package grants_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
)

// ldapPolicyAt is ldapPolicy with the ops role's group set to group (and
// more roles appended).
func ldapPolicyAt(group string, more ...testenv.Role) string {
	return strings.Replace(ldapPolicy, "cn=ops,", "cn="+group+",", 1) + strings.TrimPrefix(testenv.Policy(more...), "admins: {groups: [admins]}\nroles:\n")
}

// reload checks and puts in force a new policy, as the server's SIGHUP
// path does.
func (r *ldapRig) reload(yaml string) {
	r.t.Helper()
	pol, err := policy.Parse("ldap.yaml", []byte(yaml))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.svc.CheckPolicy(context.Background(), pol); err != nil {
		r.t.Fatal(err)
	}
	if err := r.svc.SetPolicy(context.Background(), pol, "ldap.yaml", nil); err != nil {
		r.t.Fatal(err)
	}
	r.pol = pol
}

func (r *ldapRig) membersOf(group string) []string {
	return r.dir.Attr(r.t, testenv.LDAPGroupDN(group), "member")
}

func (r *ldapRig) lastOf(typ string) *api.AuditEvent {
	r.t.Helper()
	evs, err := r.st.Audit(context.Background(), store.AuditFilter{Type: typ, Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	if len(evs) == 0 {
		return nil
	}
	return &evs[len(evs)-1]
}

// A reload that points a live role at another group must not strand the
// grants started under the old one: the revoke removes the member from
// the group it was added to, is audited as enforced there, and the new
// group is never touched; the reload names the grants it moved.
func TestRevokeAfterAReloadMovedTheRoleToAnotherGroupEndsItInTheGroupItStartedIn(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRigWith(t, "ops", "ops-new")
	ctx := context.Background()
	alice := testenv.LDAPPersonDN("alice")
	req := r.grant(p.alice, p.bob)
	if req.Target == nil || req.Target.Kind != policy.KindLDAPGroup || !strings.Contains(string(req.Target.Spec), testenv.LDAPGroupDN("ops")) {
		t.Fatalf("the grant did not record where it started: %+v", req.Target)
	}
	r.reload(ldapPolicyAt("ops-new"))
	if ev := r.lastOf(audit.TypePolicyLoaded); ev == nil || !strings.Contains(ev.Detail["moved_grants"], req.ID) {
		t.Fatalf("the reload does not name the live grant it moved: %+v", ev)
	}
	if _, err := r.svc.Revoke(ctx, api_(p.carol), req.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if m := r.membersOf("ops"); slices.Contains(m, alice) {
		t.Fatalf("alice is still in the group her grant started in after the revoke: %v", m)
	}
	if m := r.membersOf("ops-new"); slices.Contains(m, alice) {
		t.Fatalf("the revoke touched the role's new group: %v", m)
	}
	ev := r.lastOf(audit.TypeRevokeEnforced)
	if ev == nil || ev.RequestID != req.ID || ev.Detail["group"] != testenv.LDAPGroupDN("ops") || ev.Detail["removed"] != "true" {
		t.Fatalf("revoke.enforced should name the old group and the removal: %+v", ev)
	}
}

// A reload that drops the role while a grant lives: the expiry still
// ends the membership where it started.
func TestExpiryAfterAReloadDroppedTheRoleStillEndsTheMembership(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRigWith(t, "ops")
	ctx := context.Background()
	alice := testenv.LDAPPersonDN("alice")
	req := r.grant(p.alice, p.bob)
	r.reload(testenv.Policy(testenv.ReadOnly))
	if ev := r.lastOf(audit.TypePolicyLoaded); ev == nil || !strings.Contains(ev.Detail["moved_grants"], req.ID) {
		t.Fatalf("the reload does not name the live grant whose role it dropped: %+v", ev)
	}
	// Its credentials are refused (the policy no longer has the role).
	if _, err := r.svc.Credentials(ctx, api_(p.alice), req.ID); err == nil || !strings.Contains(err.Error(), "no longer in the policy") {
		t.Fatalf("credentials of a dropped role: %v", err)
	}
	r.clock.Set(req.EndsAt.Add(time.Second))
	if _, err := r.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if m := r.membersOf("ops"); slices.Contains(m, alice) {
		t.Fatalf("alice is still a member after her grant of a dropped role expired: %v", m)
	}
	if !slices.Contains(r.types(req.ID), audit.TypeRevokeEnforced) {
		t.Fatalf("the end is not audited: %v", r.types(req.ID))
	}
}

// A grant stored before grants recorded their target, whose role the
// policy dropped, has nowhere to end: that is audited as revoke.failed,
// never passed over in silence.
func TestEndOfAGrantWithNoRecordedTargetAndNoRoleIsAuditedAsFailed(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRigWith(t, "ops")
	ctx := context.Background()
	req := r.grant(p.alice, p.bob)
	// The stored grant as an older server wrote it: no target.
	if _, err := r.st.Update(ctx, req.ID, func(cur *api.Request) ([]audit.Event, error) {
		cur.Target = nil
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	r.reload(testenv.Policy(testenv.ReadOnly))
	if _, err := r.svc.Revoke(ctx, api_(p.carol), req.ID, "done"); err != nil {
		t.Fatal(err)
	}
	ev := r.lastOf(audit.TypeRevokeFailed)
	if ev == nil || ev.RequestID != req.ID || !strings.Contains(ev.Reason, "no longer in the policy") {
		t.Fatalf("want a revoke.failed saying the role is gone: %+v", ev)
	}
}

// Reconcile scans every group holding a jit marker, not only the groups
// the policy names now: a membership left in a group no role names any
// more (its end missed while the directory refused, then the role moved)
// is removed and audited.
func TestReconcileRemovesStrayMembershipsInGroupsNoRoleNamesAnyMore(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRigWith(t, "ops", "ops-new")
	ctx := context.Background()
	alice := testenv.LDAPPersonDN("alice")
	req := r.grant(p.alice, p.bob)
	// The end fails at the directory (a rotated bind password)...
	r.start("wrong-password")
	r.clock.Set(req.EndsAt.Add(time.Second))
	if _, err := r.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.membersOf("ops"), alice) {
		t.Fatal("test setup: the end should have failed at the directory")
	}
	// ...and the server comes back with the role moved to another group.
	r.pol = mustParse(t, ldapPolicyAt("ops-new"))
	if n := r.start(r.dir.BindPassword()); n.Removed != 1 {
		t.Fatalf("reconcile at start: %+v, want the stray membership in the old group removed", n)
	}
	if slices.Contains(r.membersOf("ops"), alice) {
		t.Fatal("alice is still a member of the group no role names any more")
	}
	ev := r.lastOf(audit.TypeAccessReconciled)
	if ev == nil || ev.RequestID != req.ID || ev.Detail["group"] != testenv.LDAPGroupDN("ops") {
		t.Fatalf("the reconcile of the old group is not audited: %+v", ev)
	}
}

// An IAM role whose ARN a reload changed: the revoke's Deny goes on the
// role the grant's credentials came from, and later credentials of the
// live grant still come from it.
func TestRevokeAfterAReloadChangedTheRoleARNDeniesTheRoleTheGrantStartedOn(t *testing.T) {
	old := testenv.ProdAdmin
	r := newRig(t, old)
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "prod-admin", Reason: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Approve(ctx, api_(r.p.bob), req.ID, req.Version, "ok"); err != nil {
		t.Fatal(err)
	}
	moved := mustParse(t, testenv.Policy(old.With("arn", "arn:aws:iam::123456789012:role/jit-somewhere-else")))
	if err := r.svc.SetPolicy(ctx, moved, "test", nil); err != nil {
		t.Fatal(err)
	}
	v, err := r.svc.Credentials(ctx, api_(r.p.alice), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Role.ARN != "arn:aws:iam::123456789012:role/jit-prod-admin" {
		t.Fatalf("credentials after the reload came from %s, want the role the grant started on", v.Role.ARN)
	}
	if _, err := r.svc.Revoke(ctx, api_(r.p.bob), req.ID, "done"); err != nil {
		t.Fatal(err)
	}
	r.revoker.mu.Lock()
	defer r.revoker.mu.Unlock()
	if len(r.revoker.calls) != 1 || r.revoker.calls[0].RoleARN != "arn:aws:iam::123456789012:role/jit-prod-admin" {
		t.Fatalf("the Deny went to %+v, want the role the grant started on", r.revoker.calls)
	}
}

func mustParse(t *testing.T, yaml string) *policy.Policy {
	t.Helper()
	pol, err := policy.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}
