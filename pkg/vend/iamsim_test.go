package vend_test

// These tests hand the documents pkg/vend writes to an independent IAM
// evaluator (internal/iamsim: npm's @cloud-copilot/iam-simulate, run as its
// own Node process) with the request context AWS would give a vended
// session, and check AWS's decision: not what jit meant to write, what IAM
// would do with it. AWS itself does not run here.

import (
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/iamsim"
	"github.com/jit-access/jit/pkg/vend"
)

const (
	simAccount = "123456789012"
	simRoleARN = "arn:aws:iam::" + simAccount + ":role/jit-prod-admin"
	// simRoleID is the role's unique id (aws:userid is "ROLEID:session").
	simRoleID = "AROAEXAMPLEJITPRODADM"
	allowAll  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
)

// simSession is one vended STS session of the target role, as AWS sees it
// in a request's context.
type simSession struct {
	user      string // jit identity: SourceIdentity, RoleSessionName, jit-user tag
	requestID string
	issued    time.Time // aws:TokenIssueTime
}

// request is an s3:GetObject (or action) call made with the session at now.
func (s simSession) request(action, resource string, now time.Time) iamsim.Request {
	session := vend.RoleSessionName(s.user)
	return iamsim.Request{
		Principal:       "arn:aws:sts::" + simAccount + ":assumed-role/jit-prod-admin/" + session,
		Action:          action,
		Resource:        resource,
		ResourceAccount: simAccount,
		Context: map[string]any{
			"aws:CurrentTime":                       now.UTC().Format(time.RFC3339),
			"aws:TokenIssueTime":                    s.issued.UTC().Format(time.RFC3339),
			"aws:SourceIdentity":                    vend.SourceIdentity(s.user),
			"aws:PrincipalTag/" + vend.TagRequestID: vend.TagValue(s.requestID),
			"aws:PrincipalTag/" + vend.TagUser:      vend.TagValue(s.user),
			"aws:userid":                            simRoleID + ":" + session,
			"aws:PrincipalArn":                      simRoleARN,
		},
	}
}

const simObject = "arn:aws:s3:::prod-reports/2026/q4.csv"

// decideAt evaluates an s3:GetObject of sess at now under the role's
// permissions (allow everything), its jit-revocations inline policy
// (revocations, "" for none) and the session policy.
func decideAt(t *testing.T, sim *iamsim.Simulator, sess simSession, sessionPolicy, revocations string, now time.Time) string {
	t.Helper()
	ids := []iamsim.Policy{{Name: "role-permissions", Document: allowAll}}
	if revocations != "" {
		ids = append(ids, iamsim.Policy{Name: vend.RevocationPolicyName, Document: revocations})
	}
	return sim.Decide(t, iamsim.Simulation{
		Request:          sess.request("s3:GetObject", simObject, now),
		IdentityPolicies: ids,
		SessionPolicy:    sessionPolicy,
	})
}

func TestSessionPolicyIsAllowedThroughTheGrantsEndSecondAndDeniedOneSecondLaterByIAM(t *testing.T) {
	sim := iamsim.Start(t)
	issued := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	end := issued.Add(10 * time.Minute) // a grant shorter than STS's 900 s minimum
	policy, err := vend.SessionPolicy("", end, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := simSession{user: "alice@example.com", requestID: "req_01jalice", issued: issued}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{issued, iamsim.Allowed},
		{end.Add(-time.Second), iamsim.Allowed},
		{end, iamsim.Allowed},
		{end.Add(time.Second), iamsim.ExplicitlyDenied},
		{issued.Add(vend.MinSessionDuration - time.Second), iamsim.ExplicitlyDenied}, // STS would still honour the credentials
	} {
		if got := decideAt(t, sim, alice, policy, "", c.at); got != c.want {
			t.Errorf("s3:GetObject at %s (grant ends %s) = %s, want %s\npolicy: %s", c.at.Format(time.RFC3339), end.Format(time.RFC3339), got, c.want, policy)
		}
	}
	// The Deny is Action "*": after the end an IAM write is denied too, not
	// only S3.
	req := alice.request("iam:CreateUser", "arn:aws:iam::"+simAccount+":user/backdoor", end.Add(time.Second))
	got := sim.Decide(t, iamsim.Simulation{Request: req, IdentityPolicies: []iamsim.Policy{{Name: "role-permissions", Document: allowAll}}, SessionPolicy: policy})
	if got != iamsim.ExplicitlyDenied {
		t.Errorf("iam:CreateUser after the grant's end = %s, want %s", got, iamsim.ExplicitlyDenied)
	}
}

func TestSessionPolicyWithANarrowerRoleSessionPolicyIsTheIntersectionInIAM(t *testing.T) {
	sim := iamsim.Start(t)
	issued := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	end := issued.Add(time.Hour)
	rolePolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::prod-reports/*"}]}`
	policy, err := vend.SessionPolicy(rolePolicy, end, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := simSession{user: "alice@example.com", requestID: "req_01jalice", issued: issued}
	during := issued.Add(time.Minute)
	for _, c := range []struct {
		action, resource string
		at               time.Time
		want             string
	}{
		{"s3:GetObject", simObject, during, iamsim.Allowed},
		{"s3:PutObject", simObject, during, iamsim.ImplicitlyDenied},                                  // not in the session policy
		{"s3:GetObject", "arn:aws:s3:::prod-secrets/key", during, iamsim.ImplicitlyDenied},            // other bucket
		{"iam:CreateUser", "arn:aws:iam::" + simAccount + ":user/x", during, iamsim.ImplicitlyDenied}, // the role allows it; the session does not
		{"s3:GetObject", simObject, end.Add(time.Second), iamsim.ExplicitlyDenied},
	} {
		got := sim.Decide(t, iamsim.Simulation{
			Request:          alice.request(c.action, c.resource, c.at),
			IdentityPolicies: []iamsim.Policy{{Name: "role-permissions", Document: allowAll}},
			SessionPolicy:    policy,
		})
		if got != c.want {
			t.Errorf("%s %s at %s = %s, want %s", c.action, c.resource, c.at.Format(time.RFC3339), got, c.want)
		}
	}
	// The other way round: a session policy never widens the role.
	readOnlyRole := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	wide, err := vend.SessionPolicy("", end, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := sim.Decide(t, iamsim.Simulation{
		Request:          alice.request("s3:PutObject", simObject, during),
		IdentityPolicies: []iamsim.Policy{{Name: "role-permissions", Document: readOnlyRole}},
		SessionPolicy:    wide,
	})
	if got != iamsim.ImplicitlyDenied {
		t.Errorf("s3:PutObject on a read-only role with jit's allow-all session policy = %s, want %s", got, iamsim.ImplicitlyDenied)
	}
}

// revoked is the jit-revocations document after revoking alice's grant at
// revokedAt, as pkg/server asks for it (request id, user, issued before the
// revoke, until the last session's end).
func revoked(t *testing.T, current string, sess simSession, revokedAt, until time.Time) string {
	t.Helper()
	doc, err := vend.MergeRevocation(current, vend.RevokeInput{
		RoleARN: simRoleARN, RequestID: sess.requestID, User: sess.user,
		IssuedBefore: revokedAt, Until: until,
	}, revokedAt)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestRevocationDenyInIAMStopsThatGrantsSessionsOnly(t *testing.T) {
	sim := iamsim.Start(t)
	issued := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	grantEnd := issued.Add(4 * time.Hour)
	revokedAt := issued.Add(30*time.Minute + 400*time.Millisecond)
	until := issued.Add(time.Hour) // the grant's last STS session ends here
	sessionPolicy, err := vend.SessionPolicy("", grantEnd, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := simSession{user: "alice@example.com", requestID: "req_01jalice", issued: issued}
	doc := revoked(t, "", alice, revokedAt, until)
	after := revokedAt.Add(time.Minute)
	cutoff := vend.IssueCutoff(revokedAt)

	for _, c := range []struct {
		name string
		sess simSession
		at   time.Time
		want string
	}{
		{"the revoked grant's session", alice, after, iamsim.ExplicitlyDenied},
		{"the revoked grant's session before the revoke", alice, revokedAt.Add(-time.Minute), iamsim.ExplicitlyDenied}, // the Deny has no start: it acts once IAM has it
		{"a session of the revoked grant issued in the revoke's own second", simSession{alice.user, alice.requestID, revokedAt.Truncate(time.Second)}, after, iamsim.ExplicitlyDenied},
		{"a session of the revoked grant issued within the clock-skew margin", simSession{alice.user, alice.requestID, revokedAt.Add(vend.RevokeClockSkew)}, after, iamsim.ExplicitlyDenied},
		{"a session of the revoked grant issued one second before the cut-off", simSession{alice.user, alice.requestID, cutoff.Add(-time.Second)}, after, iamsim.ExplicitlyDenied},
		{"a session issued at the cut-off (the Deny is strictly before it)", simSession{alice.user, alice.requestID, cutoff}, after, iamsim.Allowed},
		{"a later grant of the same person", simSession{alice.user, "req_01jalice2", revokedAt.Add(2 * time.Minute)}, after.Add(2 * time.Minute), iamsim.Allowed},
		{"an earlier, unrevoked grant of the same person", simSession{alice.user, "req_01jalice0", issued}, after, iamsim.Allowed},
		{"another person's session", simSession{"bob@example.com", "req_01jbob", issued}, after, iamsim.Allowed},
		{"another person with the revoked grant's tag", simSession{"mallory@example.com", alice.requestID, issued}, after, iamsim.Allowed}, // not reachable (jit tags its own ids), and the Deny needs both
		{"the revoked grant's session after the Deny's end", alice, until.Add(time.Second), iamsim.Allowed},                                // STS has expired it by then
		{"the revoked grant's session at the Deny's last second", alice, until.Add(-time.Second), iamsim.ExplicitlyDenied},
	} {
		if got := decideAt(t, sim, c.sess, sessionPolicy, doc, c.at); got != c.want {
			t.Errorf("%s: %s, want %s\nrevocations: %s", c.name, got, c.want, doc)
		}
	}
}

func TestSeveralRevocationsInIAMEachDenyTheirGrantAndPruningDropsExpiredOnes(t *testing.T) {
	sim := iamsim.Start(t)
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sessionPolicy, err := vend.SessionPolicy("", t0.Add(12*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := simSession{user: "alice@example.com", requestID: "req_01jalice", issued: t0}
	bob := simSession{user: "bob@example.com", requestID: "req_01jbob", issued: t0.Add(5 * time.Minute)}
	carol := simSession{user: "carol@example.com", requestID: "req_01jcarol", issued: t0.Add(10 * time.Minute)}
	dave := simSession{user: "dave@example.com", requestID: "req_01jdave", issued: t0}

	doc := revoked(t, "", alice, t0.Add(20*time.Minute), t0.Add(time.Hour))
	doc = revoked(t, doc, bob, t0.Add(21*time.Minute), t0.Add(65*time.Minute))
	doc = revoked(t, doc, carol, t0.Add(22*time.Minute), t0.Add(3*time.Hour))
	if n := strings.Count(doc, `"Sid":"JitRevoke`); n != 3 {
		t.Fatalf("%d entries, want 3: %s", n, doc)
	}
	at := t0.Add(30 * time.Minute)
	for _, c := range []struct {
		sess simSession
		want string
	}{{alice, iamsim.ExplicitlyDenied}, {bob, iamsim.ExplicitlyDenied}, {carol, iamsim.ExplicitlyDenied}, {dave, iamsim.Allowed}} {
		if got := decideAt(t, sim, c.sess, sessionPolicy, doc, at); got != c.want {
			t.Errorf("%s with three revocations: %s, want %s", c.sess.user, got, c.want)
		}
	}

	// Two hours in, alice's and bob's entries have ended; the next write
	// (revoking dave) prunes them and keeps carol's.
	later := t0.Add(2 * time.Hour)
	dave.issued = later.Add(-10 * time.Minute)
	pruned := revoked(t, doc, dave, later, later.Add(time.Hour))
	if n := strings.Count(pruned, `"Sid":"JitRevoke`); n != 2 {
		t.Fatalf("after pruning %d entries, want 2 (carol, dave): %s", n, pruned)
	}
	for _, c := range []struct {
		sess simSession
		want string
	}{{carol, iamsim.ExplicitlyDenied}, {dave, iamsim.ExplicitlyDenied}, {alice, iamsim.Allowed}, {bob, iamsim.Allowed}} {
		if got := decideAt(t, sim, c.sess, sessionPolicy, pruned, later.Add(time.Minute)); got != c.want {
			t.Errorf("%s after pruning: %s, want %s", c.sess.user, got, c.want)
		}
	}
}

func TestRevocationByUserInIAMDeniesAllTheirEarlierSessionsAndNoLaterOnes(t *testing.T) {
	sim := iamsim.Start(t)
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sessionPolicy, err := vend.SessionPolicy("", t0.Add(12*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	revokedAt := t0.Add(30 * time.Minute)
	doc, err := vend.MergeRevocation("", vend.RevokeInput{RoleARN: simRoleARN, User: "alice@example.com",
		IssuedBefore: revokedAt, Until: revokedAt.Add(time.Hour)}, revokedAt)
	if err != nil {
		t.Fatal(err)
	}
	at := revokedAt.Add(time.Minute)
	for _, c := range []struct {
		name string
		sess simSession
		want string
	}{
		{"alice's first grant", simSession{"alice@example.com", "req_1", t0}, iamsim.ExplicitlyDenied},
		{"alice's second grant", simSession{"alice@example.com", "req_2", t0.Add(20 * time.Minute)}, iamsim.ExplicitlyDenied},
		{"alice's grant after the revoke", simSession{"alice@example.com", "req_3", vend.IssueCutoff(revokedAt)}, iamsim.Allowed},
		{"bob", simSession{"bob@example.com", "req_4", t0}, iamsim.Allowed},
	} {
		if got := decideAt(t, sim, c.sess, sessionPolicy, doc, at); got != c.want {
			t.Errorf("%s: %s, want %s\nrevocations: %s", c.name, got, c.want, doc)
		}
	}
}

// Found by the evaluator: with no deny actions given, the time-bound Deny
// had "Action": null, a policy IAM refuses. It must deny "*".
func TestSessionPolicyWithoutDenyActionsDeniesEverything(t *testing.T) {
	policy, err := vend.SessionPolicy("", time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"Sid":"JitGrantEnd","Effect":"Deny","Action":"*","Resource":"*"`; !strings.Contains(policy, want) {
		t.Fatalf("session policy %s\nwant a Deny of every action: %s", policy, want)
	}
}
