package grants_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/approvers"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
)

// managerOnly is a role only the requester's manager approves; withGroup
// also lets the approvers group approve.
var (
	managerOnly = testenv.NewRole("mgr", "approvers", "{manager_of_requester: true}")
	withGroup   = testenv.NewRole("mgr-or-group", "approvers", "{groups: [approvers], manager_of_requester: true}")
)

func withManagers(src grants.ManagerSource) func(*grants.Options) {
	return func(o *grants.Options) { o.Managers = src }
}

// unresolved returns the approver.unresolved events the service published.
func (r *rig) unresolved() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Event
	for _, e := range r.events {
		if e.Type == audit.TypeApproverUnresolved {
			out = append(out, e)
		}
	}
	return out
}

func TestRequestersManagerApprovesAndTheRequestRecordsWhoThatIs(t *testing.T) {
	r := newRigWith(t, withManagers(approvers.Static{"alice@example.com": "bob@example.com"}), managerOnly)
	ctx := context.Background()
	p := r.p
	req, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr", Reason: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Manager != "bob@example.com" || req.State != api.StatePending {
		t.Fatalf("request: manager %q, state %s; want bob@example.com, pending", req.Manager, req.State)
	}
	// The manager's queue shows it; another approver's does not.
	for who, want := range map[string]int{"bob": 1, "carol": 0} {
		u := map[string]api.User{"bob": p.bob, "carol": p.carol}[who]
		queue, _, err := r.svc.List(ctx, api_(u), grants.ListInput{Scope: grants.ScopeReview})
		if err != nil || len(queue) != want {
			t.Fatalf("%s's review queue: %d requests (%v), want %d", who, len(queue), err, want)
		}
	}
	// carol approves other roles (group approvers) but is not alice's manager.
	if _, err := r.svc.Approve(ctx, api_(p.carol), req.ID, req.Version, ""); !errors.As(err, new(*policy.DeniedError)) {
		t.Fatalf("carol (not the manager) approved: %v", err)
	} else if !strings.Contains(err.Error(), "for this request: bob@example.com") {
		t.Errorf("the refusal does not name the manager: %v", err)
	}
	got, err := r.svc.Approve(ctx, api_(p.bob), req.ID, req.Version, "ok")
	if err != nil || got.State != api.StateApproved {
		t.Fatalf("the manager's approval: %v, %v", got, err)
	}
	var created *api.AuditEvent
	for _, e := range r.auditOf(t, req.ID) {
		if e.Type == audit.TypeRequestCreated {
			created = &e
		}
	}
	if created == nil || created.Detail[grants.DetailManager] != "bob@example.com" || created.Detail[grants.DetailManagerSource] != "static" {
		t.Fatalf("request.created does not record the manager and its source: %+v", created)
	}
}

func TestRequesterWhoIsTheirOwnManagerCannotApproveTheirRequest(t *testing.T) {
	r := newRigWith(t, withManagers(approvers.Static{"alice@example.com": "Alice@Example.com"}), managerOnly, withGroup)
	ctx := context.Background()
	p := r.p
	// Only the manager approves, and the manager is alice: refused, with why.
	_, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr", Reason: "x"})
	var denied *policy.DeniedError
	if !errors.As(err, &denied) || !strings.Contains(err.Error(), "own manager") {
		t.Fatalf("a request only its requester (as their own manager) could approve was made: %v", err)
	}
	// With a group besides, the request waits for the group; alice still
	// cannot approve it, and no manager is recorded.
	req, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr-or-group", Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Manager != "" {
		t.Fatalf("the requester was recorded as their own manager: %q", req.Manager)
	}
	if _, err := r.svc.Approve(ctx, api_(p.alice), req.ID, req.Version, ""); !errors.As(err, &denied) {
		t.Fatalf("the requester approved their own request as their manager: %v", err)
	}
	if evs := r.unresolved(); len(evs) != 2 || !strings.Contains(evs[0].Reason, "own manager") {
		t.Fatalf("approver.unresolved events: %+v", evs)
	}
	if _, err := r.svc.Approve(ctx, api_(p.bob), req.ID, req.Version, ""); err != nil {
		t.Fatalf("the approvers group could not approve: %v", err)
	}
}

// A manager claim in a real IdP token that names the requester is refused
// like any other source's answer.
func TestManagerClaimNamingTheRequesterIsNotAnApprover(t *testing.T) {
	users := devidp.DefaultUsers()
	users[0].Claims = map[string]any{"manager": "alice@example.com"} // alice names herself
	users[1].Claims = map[string]any{"manager": "carol@example.com"} // bob's manager is carol
	prov, err := devidp.Start(context.Background(), devidp.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prov.Close() })
	toks := testenv.IDTokens(t, prov, "alice", "bob", "carol")
	v := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: prov.Issuer(), ClientID: prov.ClientID(), ClockSkew: 30 * time.Second, ManagerClaim: "manager"})
	verified := map[string]api.User{}
	for name, tok := range toks {
		u, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		verified[name] = u
	}
	if verified["bob"].ManagerClaim != "carol@example.com" {
		t.Fatalf("the verifier did not copy the manager claim: %+v", verified["bob"])
	}
	r := newRigWith(t, withManagers(approvers.Claim{Name: "manager"}), managerOnly)
	ctx := context.Background()
	if _, err := r.svc.Create(ctx, api_(verified["alice"]), api.CreateRequest{Role: "mgr", Reason: "x"}); !errors.As(err, new(*policy.DeniedError)) {
		t.Fatalf("alice, her own manager by claim, got a request only she could approve: %v", err)
	}
	req, err := r.svc.Create(ctx, api_(verified["bob"]), api.CreateRequest{Role: "mgr", Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Approve(ctx, api_(verified["alice"]), req.ID, req.Version, ""); err == nil {
		t.Fatal("alice approved bob's request without being his manager")
	}
	if got, err := r.svc.Approve(ctx, api_(verified["carol"]), req.ID, req.Version, ""); err != nil || got.State != api.StateApproved {
		t.Fatalf("bob's manager carol could not approve: %v", err)
	}
}

// A manager source that cannot answer fails closed: a request only the
// manager could approve is refused with the source's error, one with other
// approvers waits for them, and both are audited.
func TestManagerSourceDownRefusesOrFallsBackAndIsAudited(t *testing.T) {
	dir := testenv.LDAP(t, []string{"alice", "bob"}, nil)
	src, err := approvers.NewLDAP(approvers.LDAPOptions{URL: dir.URL(), BindDN: testenv.LDAPBindDN, Password: "wrong-password",
		Timeout: 5 * time.Second, Base: "ou=people," + testenv.LDAPSuffix, Filter: "(mail={user})"})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, withManagers(src), managerOnly, withGroup)
	ctx := context.Background()
	p := r.p
	_, err = r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr", Reason: "x"})
	if !errors.As(err, new(*policy.DeniedError)) || !strings.Contains(err.Error(), "ldap") || !strings.Contains(err.Error(), "bind_password_file") {
		t.Fatalf("a request nobody could approve was made, or the error does not say what to fix: %v", err)
	}
	req, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr-or-group", Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Manager != "" {
		t.Fatalf("manager recorded although the source failed: %q", req.Manager)
	}
	evs := r.unresolved()
	if len(evs) != 2 || evs[0].Detail[grants.DetailManagerSource] != "ldap" || !strings.Contains(evs[1].Reason, "ldap") {
		t.Fatalf("approver.unresolved events: %+v", evs)
	}
	if _, err := r.svc.Approve(ctx, api_(p.bob), req.ID, req.Version, ""); err != nil {
		t.Fatalf("the approvers group could not approve while the manager source was down: %v", err)
	}
}

// The directory's manager attribute (real slapd) names the manager; the
// answer is kept for the cache time and asked again after it.
func TestLDAPManagerIsReadFromTheDirectoryAndCachedForItsTTL(t *testing.T) {
	dir := testenv.LDAP(t, []string{"alice", "bob", "carol"}, nil)
	setManager := func(person, manager string) {
		dir.Modify(t, "dn: "+testenv.LDAPPersonDN(person)+"\nchangetype: modify\nreplace: manager\nmanager: "+testenv.LDAPPersonDN(manager)+"\n")
	}
	setManager("alice", "bob")
	ldapSrc, err := approvers.NewLDAP(approvers.LDAPOptions{URL: dir.URL(), BindDN: testenv.LDAPBindDN, Password: dir.BindPassword(),
		Timeout: 5 * time.Second, Base: "ou=people," + testenv.LDAPSuffix, Filter: "(mail={user})"})
	if err != nil {
		t.Fatal(err)
	}
	var r *rig
	cached := &approvers.Cached{Source: ldapSrc, TTL: 5 * time.Minute, Now: func() time.Time { return r.clock.Now() }}
	r = newRigWith(t, withManagers(cached), managerOnly)
	ctx := context.Background()
	p := r.p
	first, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr", Reason: "x"})
	if err != nil || first.Manager != "bob@example.com" {
		t.Fatalf("manager from the directory: %v, %v", first, err)
	}
	setManager("alice", "carol")
	second, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr", Reason: "y"})
	if err != nil || second.Manager != "bob@example.com" {
		t.Fatalf("within the cache time the cached answer is used: %v, %v", second, err)
	}
	r.clock.Add(5*time.Minute + time.Second)
	third, err := r.svc.Create(ctx, api_(p.alice), api.CreateRequest{Role: "mgr", Reason: "z"})
	if err != nil || third.Manager != "carol@example.com" {
		t.Fatalf("after the cache time the directory is asked again: %v, %v", third, err)
	}
	if _, err := r.svc.Approve(ctx, api_(p.bob), third.ID, third.Version, ""); err == nil {
		t.Fatal("the former manager approved a request made after the directory changed")
	}
	if _, err := r.svc.Approve(ctx, api_(p.carol), third.ID, third.Version, ""); err != nil {
		t.Fatalf("the new manager could not approve: %v", err)
	}
}
