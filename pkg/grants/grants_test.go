package grants_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
	"github.com/jit-access/jit/pkg/vend"
)

// people are the devidp users as the API sees them: their real ID tokens,
// verified by the server's verifier.
type people struct{ alice, bob, carol api.User }

// idp is the package's OIDC provider (TestMain), and the people it signed
// in, once.
var (
	idp        *devidp.Provider
	peopleOnce sync.Once
	peopleSeen people
)

func TestMain(m *testing.M) {
	p, err := devidp.Start(context.Background(), devidp.Options{})
	if err != nil {
		panic("start the OIDC provider: " + err.Error())
	}
	idp = p
	code := m.Run()
	_ = p.Close()
	os.Exit(code)
}

// verifiedPeople logs alice, bob and carol in once per test binary (a
// device flow each) and verifies their tokens.
func verifiedPeople(t *testing.T) people {
	t.Helper()
	peopleOnce.Do(func() {
		toks := testenv.IDTokens(t, idp, "alice", "bob", "carol")
		v := server.NewOIDCVerifier(server.OIDCVerifierConfig{Issuer: idp.Issuer(), ClientID: idp.ClientID(), ClockSkew: 30 * time.Second})
		users := map[string]api.User{}
		for name, tok := range toks {
			u, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("verify %s: %v", name, err)
			}
			users[name] = u
		}
		peopleSeen = people{alice: users["alice"], bob: users["bob"], carol: users["carol"]}
	})
	if peopleSeen.alice.Subject == "" {
		t.Fatal("no verified people (an earlier test failed to log them in)")
	}
	return peopleSeen
}

// fakeRevoker is a named fake of the IAM revoker (IAM does not run here;
// pkg/vend's own tests run the real one against fakeiam).
type fakeRevoker struct {
	mu    sync.Mutex
	calls []vend.RevokeInput
	err   error
}

func (f *fakeRevoker) Revoke(_ context.Context, in vend.RevokeInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	return f.err
}

type rig struct {
	svc     *grants.Service
	st      store.Store
	clock   *testenv.Clock
	vendor  *testenv.FakeVendor
	revoker *fakeRevoker
	p       people
	events  []audit.Event
	mu      sync.Mutex
}

func newRig(t *testing.T, roles ...testenv.Role) *rig {
	t.Helper()
	return newRigWith(t, nil, roles...)
}

// newRigWith is newRig with the service's options tweaked (a manager
// source) before it is built.
func newRigWith(t *testing.T, tweak func(*grants.Options), roles ...testenv.Role) *rig {
	t.Helper()
	if len(roles) == 0 {
		roles = testenv.BaseRoles()
	}
	pol, err := policy.Parse("grants-test.yaml", []byte(testenv.Policy(roles...)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{st: st, clock: testenv.NewClock(time.Now()), vendor: &testenv.FakeVendor{}, revoker: &fakeRevoker{}, p: verifiedPeople(t)}
	targets, err := target.NewRegistry(awsrole.New(awsrole.Options{Vendor: r.vendor, Revoker: r.revoker, Audit: st}))
	if err != nil {
		t.Fatal(err)
	}
	o := grants.Options{Store: st, Activity: st, Policy: pol, Targets: targets, Now: r.clock.Now,
		RequestsPerMinute: 60, RequestBurst: 3,
		Events: func(e audit.Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }}
	if tweak != nil {
		tweak(&o)
	}
	r.svc, err = grants.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func api_(u api.User) grants.Actor { return grants.Actor{User: u, Via: grants.ViaAPI} }

func (r *rig) auditOf(t *testing.T, id string) []api.AuditEvent {
	t.Helper()
	evs, err := r.st.Audit(context.Background(), store.AuditFilter{RequestID: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestApprovalNeedsAnotherApproverAndRecordsPrincipalAndDoor(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(r.p.bob), api.CreateRequest{Role: "prod-admin", Reason: "deploy"})
	if err != nil || req.State != api.StatePending {
		t.Fatalf("create: %v %+v", err, req)
	}
	// bob is an approver of prod-admin, but never of his own request.
	var denied *policy.DeniedError
	if _, err := r.svc.Approve(ctx, api_(r.p.bob), req.ID, req.Version, "me"); !errors.As(err, &denied) {
		t.Fatalf("self-approval: got %v, want a DeniedError", err)
	}
	// alice is no approver: she may not even see the request.
	if _, err := r.svc.Approve(ctx, api_(r.p.alice), req.ID, req.Version, "ok"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("approval by a non-approver: got %v, want not found", err)
	}
	got, err := r.svc.Approve(ctx, grants.Actor{User: r.p.carol, Via: grants.ViaWeb}, req.ID, req.Version, "ok")
	if err != nil || got.State != api.StateApproved {
		t.Fatalf("carol's approval: %v %+v", err, got)
	}
	var approved *api.AuditEvent
	for _, e := range r.auditOf(t, req.ID) {
		if e.Type == audit.TypeRequestApproved {
			approved = &e
		}
	}
	if approved == nil || approved.Detail[grants.DetailVia] != grants.ViaWeb || approved.Detail[lifecycle.DetailActorSubject] != r.p.carol.Subject {
		t.Fatalf("request.approved should record carol's principal and the web door: %+v", approved)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 || r.events[len(r.events)-1].Type != audit.TypeRequestApproved {
		t.Fatalf("the approval was not published: %+v", r.events)
	}
}

func TestRequestsOfOthersAreNotFoundNotForbidden(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "readonly"})
	if err != nil {
		t.Fatal(err)
	}
	// bob approves prod-admin etc., and readonly too (approvers group), so
	// he may see it; a request of a role he has nothing to do with is hidden.
	other := newRig(t, testenv.ReadOnly.With("approvers", "{groups: [nobody]}"))
	req2, err := other.svc.Create(ctx, api_(other.p.alice), api.CreateRequest{Role: "readonly"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.svc.Get(ctx, api_(other.p.bob), req2.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob reading alice's request: %v, want ErrNotFound", err)
	}
	if _, err := other.svc.Approve(ctx, api_(other.p.bob), req2.ID, req2.Version, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob approving a request he may not see: %v, want ErrNotFound", err)
	}
	if _, err := r.svc.Get(ctx, api_(r.p.alice), req.ID); err != nil {
		t.Fatalf("alice reading her own: %v", err)
	}
}

func TestCreateIsRateLimitedPerPrincipal(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	for i := range 3 {
		if _, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "readonly"}); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	var apiErr *api.Error
	if _, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "readonly"}); !errors.As(err, &apiErr) || apiErr.Code != api.CodeRateLimited || apiErr.Hint == "" {
		t.Fatalf("fourth create in the burst: %v, want rate limited with a hint", err)
	}
	if _, err := r.svc.Create(ctx, api_(r.p.bob), api.CreateRequest{Role: "readonly"}); err != nil {
		t.Fatalf("another principal is not limited by alice's requests: %v", err)
	}
}

func TestWaitingExtensionIsDecidedByApproversNotTheRequester(t *testing.T) {
	r := newRig(t, testenv.OnCall.With("max_extensions", "2"))
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "oncall", Reason: "outage", BreakGlass: true, DurationSeconds: 1800})
	if err != nil || req.State != api.StateApproved {
		t.Fatalf("break-glass: %v %+v", err, req)
	}
	// Past break_glass.max_duration (30m) the extension waits.
	got, waiting, err := r.svc.Extend(ctx, api_(r.p.alice), req.ID, 15*time.Minute, "still broken")
	if err != nil || !waiting || got.PendingExtension == nil {
		t.Fatalf("extend: %v waiting=%v %+v", err, waiting, got)
	}
	var denied *policy.DeniedError
	if _, err := r.svc.Approve(ctx, api_(r.p.alice), req.ID, req.Version, "mine"); !errors.As(err, &denied) {
		t.Fatalf("requester approving her own extension: %v, want DeniedError", err)
	}
	got, err = r.svc.Approve(ctx, grants.Actor{User: r.p.bob, Via: grants.ViaSlack}, req.ID, got.Version, "ok")
	if err != nil || got.PendingExtension != nil || !got.EndsAt.Equal(req.EndsAt.Add(15*time.Minute)) {
		t.Fatalf("bob's approval of the extension: %v %+v", err, got)
	}
}

func TestRevokeAfterAVendEndsAccessAtTheTarget(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	req, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "readonly"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.svc.Credentials(ctx, api_(r.p.alice), req.ID)
	if err != nil || v.AWS == nil || v.ID == "" {
		t.Fatalf("credentials: %v %+v", err, v)
	}
	var denied *policy.DeniedError
	if _, err := r.svc.Credentials(ctx, api_(r.p.bob), req.ID); !errors.As(err, &denied) {
		t.Fatalf("bob fetching alice's credentials: %v, want DeniedError", err)
	}
	got, err := r.svc.Revoke(ctx, api_(r.p.carol), req.ID, "done")
	if err != nil || got.State != api.StateRevoked {
		t.Fatalf("revoke: %v %+v", err, got)
	}
	if len(r.revoker.calls) != 1 || r.revoker.calls[0].RequestID != req.ID {
		t.Fatalf("revoker calls: %+v", r.revoker.calls)
	}
	var enforced bool
	for _, e := range r.auditOf(t, req.ID) {
		enforced = enforced || e.Type == audit.TypeRevokeEnforced
	}
	if !enforced {
		t.Fatal("no grant.revocation_enforced record")
	}
	if _, err := r.svc.Credentials(ctx, api_(r.p.alice), req.ID); err == nil {
		t.Fatal("credentials after the revoke")
	}
}

func TestSweepTimesOutAndExpiresWithoutWritingADeny(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	pending, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "prod-admin", Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	granted, err := r.svc.Create(ctx, api_(r.p.alice), api.CreateRequest{Role: "readonly"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Credentials(ctx, api_(r.p.alice), granted.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := r.svc.SweepOnce(ctx); err != nil || n != 0 {
		t.Fatalf("early sweep: %d %v", n, err)
	}
	r.clock.Add(time.Hour)
	if n, err := r.svc.SweepOnce(ctx); err != nil || n != 2 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	for id, want := range map[string]api.State{pending.ID: api.StateTimedOut, granted.ID: api.StateExpired} {
		got, err := r.st.Get(ctx, id)
		if err != nil || got.State != want {
			t.Fatalf("%s: %v %v, want %s", id, err, got.State, want)
		}
	}
	// An expired grant's sessions end with their session policy: no Deny.
	if len(r.revoker.calls) != 0 {
		t.Fatalf("expiry wrote a Deny: %+v", r.revoker.calls)
	}
}

func TestRoleOfAKindWithoutTargetIsRefusedWithTheKnownKinds(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte(testenv.Policy(testenv.ReadOnly)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	empty, _ := target.NewRegistry()
	svc, err := grants.New(grants.Options{Store: st, Policy: pol, Targets: empty})
	if err != nil {
		t.Fatal(err)
	}
	var noTarget *target.NoTargetError
	if err := svc.CheckPolicy(context.Background(), pol); !errors.As(err, &noTarget) || noTarget.Kind != policy.KindAWSRole {
		t.Fatalf("check: %v, want a NoTargetError for aws_role", err)
	}
	_, err = svc.Create(context.Background(), grants.Actor{User: api.User{Issuer: "i", Subject: "s", Username: "alice@example.com", Groups: []string{"developers"}}},
		api.CreateRequest{Role: "readonly"})
	if !errors.As(err, &noTarget) {
		t.Fatalf("create: %v, want a NoTargetError", err)
	}
}
