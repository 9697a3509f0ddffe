package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeiam"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/server"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/vend"
)

// revokeEnv is a server whose revoker writes to a FAKE IAM (internal/fakeiam)
// where the server's account 123456789012 holds the policy's roles.
func revokeEnv(t *testing.T) (*env, *fakeiam.Server) {
	t.Helper()
	f := fakeiam.New(t)
	f.AddRole("123456789012", "jit-readonly")
	e := newEnvWith(t, func(o *server.Options) {
		r, err := vend.NewIAMRevoker(vend.IAMConfig{Endpoint: f.URL, STSEndpoint: f.URL, Credentials: f.Keys("123456789012"),
			Lock: o.Store.WithLock, Now: o.Now})
		if err != nil {
			t.Fatal(err)
		}
		o.Revoker = r
	})
	return e, f
}

// vendThenRevoke fetches a readonly grant's credentials as alice, waits
// after, and revokes it; it returns the grant and the revoke's audit events.
func vendThenRevoke(t *testing.T, e *env, after time.Duration) (*api.Request, time.Time, []api.AuditEvent) {
	t.Helper()
	r := e.create("alice", api.CreateRequest{Role: "readonly", Reason: "logs", DurationSeconds: 3600})
	var c api.Credentials
	if code := e.call("alice", "POST", "/v1/requests/"+r.ID+"/credentials", nil, &c); code != 200 {
		t.Fatalf("credentials: %d", code)
	}
	e.clock.Add(after)
	if code := e.call("alice", "POST", "/v1/requests/"+r.ID+"/revoke", map[string]string{"comment": "done"}, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	var evs []api.AuditEvent
	for _, typ := range []string{audit.TypeRevokeEnforced, audit.TypeRevokeFailed} {
		got, err := e.store.Audit(t.Context(), store.AuditFilter{RequestID: r.ID, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, got...)
	}
	return r, c.STSExpiration, evs
}

// revocation_enforced is audited only once IAM holds the Deny on the role's
// own ARN, and the Deny lives until the grant's last STS session ends (the
// vend's expiry), not revoke time + the role's maximum session.
func TestRevokeAuditsEnforcedOnlyWithTheDenyInIAMAndUntilTheLastSessionEnds(t *testing.T) {
	e, f := revokeEnv(t)
	r, stsExpiry, evs := vendThenRevoke(t, e, 10*time.Minute)
	if len(evs) != 1 || evs[0].Type != audit.TypeRevokeEnforced || evs[0].Detail["role_arn"] != "arn:aws:iam::123456789012:role/jit-readonly" {
		t.Fatalf("audit: %+v", evs)
	}
	var p struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(f.Policy("123456789012", "jit-readonly", vend.RevocationPolicyName)), &p); err != nil || len(p.Statement) != 1 {
		t.Fatalf("policy in IAM: %+v, %v", p, err)
	}
	cond := p.Statement[0].Condition
	if cond["StringEquals"]["aws:PrincipalTag/jit-request-id"] != r.ID {
		t.Fatalf("Deny condition %v", cond)
	}
	// Until: the vend's STS expiry (rounded up), 10 minutes before the old
	// revoke time + max_session_duration.
	if want := stsExpiry.UTC().Truncate(time.Second); cond["DateLessThan"]["aws:CurrentTime"] != want.Format(time.RFC3339) &&
		cond["DateLessThan"]["aws:CurrentTime"] != want.Add(time.Second).Format(time.RFC3339) {
		t.Fatalf("Deny until %s, want the vend's STS expiry %s", cond["DateLessThan"]["aws:CurrentTime"], stsExpiry.UTC().Format(time.RFC3339Nano))
	}
}

// Before: a failed IAM write could still be audited revocation_enforced.
func TestRevokeWhenIAMRefusesIsAuditedFailedNeverEnforced(t *testing.T) {
	e, f := revokeEnv(t)
	f.FailPut("123456789012", "jit-readonly", "AccessDenied")
	_, _, evs := vendThenRevoke(t, e, time.Minute)
	if len(evs) != 1 || evs[0].Type != audit.TypeRevokeFailed || !strings.Contains(evs[0].Reason, "AccessDenied") {
		t.Fatalf("audit: %+v, want one revocation_failed with IAM's reason", evs)
	}
	if !strings.Contains(e.logs.String(), "revocation not enforced at the target") {
		t.Fatal("the failure was not logged for operators")
	}
}
