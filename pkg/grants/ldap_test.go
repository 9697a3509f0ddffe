package grants_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
	"github.com/jit-access/jit/pkg/target/ldapgroup"
)

// ldapRig is a grants service over a real SQLite file and a real slapd,
// which a test can stop and start again (a server restart) on the same
// database and directory.
type ldapRig struct {
	t      *testing.T
	dir    *testenv.LDAPServer
	dbPath string
	clock  *testenv.Clock
	pol    *policy.Policy
	svc    *grants.Service
	st     store.Store
	// startHook, when set, runs at the start of every Start at the
	// directory (before it writes): a test pauses a Start there.
	startHook func()
}

// pausingTarget is the real ldap_group target with the rig's start hook.
type pausingTarget struct {
	*ldapgroup.Target
	r *ldapRig
}

func (p pausingTarget) Start(ctx context.Context, g target.Grant, now time.Time) (target.Issued, error) {
	if h := p.r.startHook; h != nil {
		h()
	}
	return p.Target.Start(ctx, g, now)
}

const ldapPolicy = `admins: {groups: [admins]}
roles:
  - name: ops
    kind: ldap_group
    ldap:
      group: cn=ops,ou=groups,dc=example,dc=org
      member_search: {base: "ou=people,dc=example,dc=org", filter: "(mail={user})"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`

func newLDAPRig(t *testing.T) *ldapRig {
	t.Helper()
	return newLDAPRigWith(t, "ops")
}

// newLDAPRigWith is newLDAPRig with these groups in the directory.
func newLDAPRigWith(t *testing.T, groups ...string) *ldapRig {
	t.Helper()
	pol, err := policy.Parse("ldap.yaml", []byte(ldapPolicy))
	if err != nil {
		t.Fatal(err)
	}
	r := &ldapRig{t: t, dir: testenv.LDAP(t, []string{"alice", "bob"}, groups),
		dbPath: filepath.Join(t.TempDir(), "jit.db"), clock: testenv.NewClock(time.Now()), pol: pol}
	r.start(r.dir.BindPassword())
	return r
}

// start opens the store and builds the service as the server does at
// start: check the policy with the targets, then reconcile.
func (r *ldapRig) start(bindPassword string) grants.Reconciled {
	t := r.t
	t.Helper()
	ctx := context.Background()
	if r.st != nil {
		r.st.Close()
	}
	st, err := sqlite.Open(ctx, r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lt, err := ldapgroup.New(ldapgroup.Options{URL: r.dir.URL(), BindDN: testenv.LDAPBindDN, Password: bindPassword, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := target.NewRegistry(awsrole.New(awsrole.Options{}), pausingTarget{lt, r})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := grants.New(grants.Options{Store: st, Activity: st, Policy: r.pol, Targets: reg, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.svc, r.st = svc, st
	if bindPassword != r.dir.BindPassword() {
		return grants.Reconciled{} // a directory the server cannot reach: no check, no reconcile
	}
	if err := svc.CheckPolicy(ctx, r.pol); err != nil {
		t.Fatalf("check policy: %v", err)
	}
	n, err := svc.Reconcile(ctx)
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return n
}

func (r *ldapRig) members() []string {
	return r.dir.Attr(r.t, testenv.LDAPGroupDN("ops"), "member")
}

// grant has who request ops and by approve it.
func (r *ldapRig) grant(who, by api.User) *api.Request {
	r.t.Helper()
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(who), api.CreateRequest{Role: "ops", Reason: "on call"})
	if err != nil {
		r.t.Fatal(err)
	}
	req, err = r.svc.Approve(ctx, api_(by), req.ID, req.Version, "ok")
	if err != nil || !req.State.Granted() {
		r.t.Fatalf("approve: %v %+v", err, req)
	}
	return req
}

func (r *ldapRig) types(id string) []string {
	evs, err := r.st.Audit(context.Background(), store.AuditFilter{RequestID: id, Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestLDAPGroupMemberDuringTheGrantAndNotAfterRevokeOrExpiryAcrossARestart(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRig(t)
	ctx := context.Background()
	alice, bob := testenv.LDAPPersonDN("alice"), testenv.LDAPPersonDN("bob")
	reqA := r.grant(p.alice, p.bob)
	reqB := r.grant(p.bob, p.carol)
	if m := r.members(); !slices.Contains(m, alice) || !slices.Contains(m, bob) {
		t.Fatalf("ldapsearch during the grants: %v, want alice and bob", m)
	}
	if !slices.Contains(r.types(reqA.ID), audit.TypeAccessGranted) {
		t.Fatalf("no %s for alice's grant: %v", audit.TypeAccessGranted, r.types(reqA.ID))
	}

	// The server restarts in the middle of both grants: nothing changes.
	if n := r.start(r.dir.BindPassword()); n != (grants.Reconciled{}) {
		t.Fatalf("a restart with the directory in step reconciled %+v, want nothing", n)
	}
	if m := r.members(); !slices.Contains(m, alice) || !slices.Contains(m, bob) {
		t.Fatalf("after the restart: %v, want alice and bob", m)
	}

	// carol revokes bob's grant: he is out of the group at once.
	if _, err := r.svc.Revoke(ctx, api_(p.carol), reqB.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if m := r.members(); slices.Contains(m, bob) || !slices.Contains(m, alice) {
		t.Fatalf("ldapsearch after bob's revoke: %v, want alice only", m)
	}
	if !slices.Contains(r.types(reqB.ID), audit.TypeRevokeEnforced) {
		t.Fatalf("revoke not audited as enforced: %v", r.types(reqB.ID))
	}

	// alice's grant expires: the sweeper of the restarted server ends it.
	r.clock.Set(reqA.EndsAt.Add(time.Second))
	if _, err := r.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if m := r.members(); slices.Contains(m, alice) {
		t.Fatalf("ldapsearch after alice's grant expired: %v, want her gone", m)
	}
	if marks := r.dir.Attr(t, testenv.LDAPGroupDN("ops"), "description"); len(marks) != 0 {
		t.Fatalf("markers left after every grant ended: %v", marks)
	}
}

func TestLDAPGroupEndMissedWhileTheDirectoryRefusedIsReconciledAtTheNextStart(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRig(t)
	ctx := context.Background()
	alice := testenv.LDAPPersonDN("alice")
	req := r.grant(p.alice, p.bob)
	// The server restarts with a bind password the directory refuses (a
	// rotated secret): the grant expires, and its end fails at the target.
	r.start("wrong-password")
	r.clock.Set(req.EndsAt.Add(time.Second))
	if _, err := r.svc.SweepOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := r.st.Get(ctx, req.ID)
	if err != nil || got.State != api.StateExpired {
		t.Fatalf("the grant should be expired in the store: %v %+v", err, got)
	}
	if !slices.Contains(r.types(req.ID), audit.TypeRevokeFailed) {
		t.Fatalf("the failed end is not audited: %v", r.types(req.ID))
	}
	if !slices.Contains(r.members(), alice) {
		t.Fatal("test setup: the end should have failed at the directory")
	}
	// Started again with the right password, the reconcile removes her.
	if n := r.start(r.dir.BindPassword()); n.Removed != 1 {
		t.Fatalf("reconcile at start: %+v, want one removal", n)
	}
	if slices.Contains(r.members(), alice) {
		t.Fatal("alice is still a member after the reconcile")
	}
	if !slices.Contains(r.types(req.ID), audit.TypeAccessReconciled) {
		t.Fatalf("the reconcile is not audited: %v", r.types(req.ID))
	}
}

func TestLDAPGroupReconcileEndsStrayMembershipsAndStartsLiveGrantsTheDirectoryLacks(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRig(t)
	group, alice, bob := testenv.LDAPGroupDN("ops"), testenv.LDAPPersonDN("alice"), testenv.LDAPPersonDN("bob")
	req := r.grant(p.alice, p.bob)
	// A crash after a directory write whose grant the store never kept
	// (bob), and a directory restored from a backup that lost alice's
	// live membership.
	r.dir.Modify(t, "dn: "+group+"\nchangetype: modify\nadd: member\nmember: "+bob+"\n-\nadd: description\ndescription: jit-grant req_ghost + "+bob+"\n")
	r.dir.Modify(t, "dn: "+group+"\nchangetype: modify\ndelete: member\nmember: "+alice+"\n-\ndelete: description\ndescription: jit-grant "+req.ID+" + "+alice+"\n")
	n := r.start(r.dir.BindPassword())
	if n.Removed != 1 || n.Started != 1 {
		t.Fatalf("reconcile: %+v, want one removal and one start", n)
	}
	if m := r.members(); slices.Contains(m, bob) || !slices.Contains(m, alice) {
		t.Fatalf("after the reconcile: %v, want alice (live grant) and not bob (no grant)", m)
	}
	if !slices.Contains(r.types("req_ghost"), audit.TypeAccessReconciled) {
		t.Fatalf("the stray membership's removal is not audited: %v", r.types("req_ghost"))
	}
}

func TestLDAPGroupGrantHasNoCredentialsToFetch(t *testing.T) {
	p := verifiedPeople(t)
	r := newLDAPRig(t)
	req := r.grant(p.alice, p.bob)
	_, err := r.svc.Credentials(context.Background(), api_(p.alice), req.ID)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Code != api.CodeNoCredentials || api.HTTPStatus(apiErr.Code) != http.StatusConflict {
		t.Fatalf("credentials of an ldap_group grant: %v, want %s (409)", err, api.CodeNoCredentials)
	}
}
