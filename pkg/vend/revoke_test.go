package vend_test

// IAM cannot run here (MinIO has no IAM API), so the IAM revoker is tested
// against internal/fakeiam: a FAKE of IAM's and STS's query protocol that
// keeps inline policies per account and role. What real IAM then enforces is
// checked on MinIO by the parent-user stand-in (TestDisablingTheParentUser…).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jit-access/jit/internal/fakeiam"
	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/store/postgres"
	"github.com/jit-access/jit/pkg/vend"
)

const (
	serverAccount = "111111111111" // where the jit server runs
	otherAccount  = "222222222222" // a target account with its own revoker role
	revokerARN    = "arn:aws:iam::" + otherAccount + ":role/jit-revoker"
)

func roleARN(account, name string) string { return "arn:aws:iam::" + account + ":role/team/" + name }

// fixedIdentity answers sts:GetCallerIdentity without a network call.
type fixedIdentity string

func (f fixedIdentity) CallerAccount(context.Context) (string, error) { return string(f), nil }

// newRevoker returns the fake (two accounts, each with a role "prod-admin")
// and a revoker for a server in serverAccount with a revoker in otherAccount.
func newRevoker(t *testing.T, now *time.Time, tweak func(*vend.IAMConfig)) (*fakeiam.Server, *vend.IAMRevoker) {
	t.Helper()
	f := fakeiam.New(t)
	f.AddRole(serverAccount, "prod-admin")
	f.AddRole(otherAccount, "prod-admin")
	f.AddAssumableRole(revokerARN, "ext-42")
	cfg := vend.IAMConfig{
		Endpoint: f.URL, STSEndpoint: f.URL, Credentials: f.Keys(serverAccount),
		Revokers:   map[string]vend.RevokerRole{otherAccount: {RoleARN: revokerARN, ExternalID: "ext-42"}},
		Now:        func() time.Time { return *now },
		RetryDelay: time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	r, err := vend.NewIAMRevoker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, r
}

type revokeStatement struct {
	Sid       string
	Effect    string
	Action    string
	Resource  string
	Condition map[string]map[string]string
}

func statements(t *testing.T, f *fakeiam.Server, account, role string) []revokeStatement {
	t.Helper()
	doc := f.Policy(account, role, vend.RevocationPolicyName)
	if doc == "" {
		return nil
	}
	var p struct{ Statement []revokeStatement }
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("stored policy: %v", err)
	}
	return p.Statement
}

func TestRevokeWritesADenyKeyedOnTheGrant(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	f.SetPolicy(serverAccount, "prod-admin", vend.RevocationPolicyName, `{"Version":"2012-10-17","Statement":[{"Sid":"HandWritten","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}`)

	arn := roleARN(serverAccount, "prod-admin")
	err := r.Revoke(t.Context(), vend.RevokeInput{
		RoleARN: arn, RequestID: "01JREQ+a b", User: "alice@example.com", IssuedBefore: now, Until: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	got := statements(t, f, serverAccount, "prod-admin")
	if len(got) != 2 || got[0].Sid != "HandWritten" {
		t.Fatalf("statements = %+v, want the hand-written one kept and one added", got)
	}
	s := got[1]
	if s.Effect != "Deny" || s.Action != "*" || s.Resource != "*" || !strings.HasPrefix(s.Sid, "JitRevoke") {
		t.Fatalf("revocation = %+v", s)
	}
	want := map[string]map[string]string{
		"StringEquals": {"aws:PrincipalTag/jit-request-id": "01JREQ+a b", "aws:SourceIdentity": "alice@example.com"},
		// 12:00:00 + 5 s of clock skew, then up to the next whole second.
		"DateLessThan": {"aws:TokenIssueTime": "2030-01-01T12:00:06Z", "aws:CurrentTime": "2030-01-01T13:00:00Z"},
	}
	if fmt.Sprint(s.Condition) != fmt.Sprint(want) {
		t.Fatalf("condition = %v\nwant        %v", s.Condition, want)
	}

	// Revoking the same grant again keeps one entry, with the later end.
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: arn, RequestID: "01JREQ+a b", User: "alice@example.com",
		IssuedBefore: now, Until: now.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got = statements(t, f, serverAccount, "prod-admin")
	if len(got) != 2 || got[1].Condition["DateLessThan"]["aws:CurrentTime"] != "2030-01-01T14:00:00Z" {
		t.Fatalf("after revoking again: %+v", got)
	}
}

// Before: the IAM revoker wrote to RoleName with the server's own
// credentials, so a role in another account got its Deny written on a
// same-named role in the server's account (and revocation_enforced audited).
func TestRevokeOfCrossAccountRoleWritesInThatAccountNotTheServersSameNamedRole(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(otherAccount, "prod-admin"), RequestID: "req_x",
		User: "alice@example.com", IssuedBefore: now, Until: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := statements(t, f, otherAccount, "prod-admin"); len(got) != 1 || got[0].Condition["StringEquals"]["aws:PrincipalTag/jit-request-id"] != "req_x" {
		t.Fatalf("target account's role: %+v, want the Deny", got)
	}
	if doc := f.Policy(serverAccount, "prod-admin", vend.RevocationPolicyName); doc != "" {
		t.Fatalf("the server's same-named role got a policy: %s", doc)
	}
	// Every IAM call went to the target account, through the revoker role.
	var assumed bool
	for _, c := range f.Calls() {
		switch c.Action {
		case "AssumeRole":
			assumed = assumed || c.Role == revokerARN
		case "GetRolePolicy", "PutRolePolicy", "DeleteRolePolicy":
			if c.Account != otherAccount {
				t.Errorf("%s on %s in account %s", c.Action, c.Role, c.Account)
			}
		}
	}
	if !assumed {
		t.Fatal("the revoker role was never assumed")
	}
}

// A role in an account with no revoker that is not the server's own cannot
// be revoked: the server refuses the config, and Revoke refuses too.
func TestRevokerRefusesARoleInAnAccountWithoutRevoker(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	const stranger = "333333333333"
	f.AddRole(stranger, "prod-admin")
	err := r.CheckRoles(t.Context(), map[string]string{
		"own": roleARN(serverAccount, "prod-admin"), "other": roleARN(otherAccount, "prod-admin"), "stranger": roleARN(stranger, "prod-admin"),
	})
	if err == nil || !strings.Contains(err.Error(), "role stranger") || !strings.Contains(err.Error(), `aws.revokers."333333333333".role_arn`) ||
		strings.Contains(err.Error(), "role own") || strings.Contains(err.Error(), "role other") {
		t.Fatalf("CheckRoles: %v; want only the stranger role refused, naming the setting to add", err)
	}
	err = r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(stranger, "prod-admin"), RequestID: "r", Until: now.Add(time.Hour)})
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindAccessDenied {
		t.Fatalf("revoke: %v, want KindAccessDenied", err)
	}
	for _, c := range f.Calls() {
		if c.Action == "PutRolePolicy" {
			t.Fatalf("wrote a policy: %+v", c)
		}
	}
}

// The server's account comes from sts:GetCallerIdentity (through the
// configured endpoint) when no Identity is injected.
func TestRevokerLearnsTheServersAccountFromGetCallerIdentity(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	_, r := newRevoker(t, &now, nil)
	if got, err := r.ServerAccount(t.Context()); err != nil || got != serverAccount {
		t.Fatalf("ServerAccount = %q, %v; want %s", got, err, serverAccount)
	}
	_, r = newRevoker(t, &now, func(c *vend.IAMConfig) { c.Identity = fixedIdentity(otherAccount) })
	if err := r.CheckRoles(t.Context(), map[string]string{"x": roleARN(serverAccount, "prod-admin")}); err == nil {
		t.Fatal("a role in another account passed with no revoker for it")
	}
}

// A revoker role whose session STS reports in another account is refused.
func TestRevokerRefusesARevokerRoleOfTheWrongAccount(t *testing.T) {
	if _, err := vend.NewIAMRevoker(vend.IAMConfig{Credentials: fixedCreds{},
		Revokers: map[string]vend.RevokerRole{otherAccount: {RoleARN: "arn:aws:iam::" + serverAccount + ":role/jit-revoker"}}}); err == nil {
		t.Fatal("accepted a revoker role in another account than its key")
	}
}

// STS answering a revoker session in another account than the role's is
// not trusted: nothing is written.
func TestRevokerRefusesASessionSTSReportsInAnotherAccount(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	f.MisreportAccount = serverAccount
	err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(otherAccount, "prod-admin"), RequestID: "r", Until: now.Add(time.Hour)})
	if err == nil || !strings.Contains(err.Error(), `sts answered a session in account "`+serverAccount+`"`) {
		t.Fatalf("err = %v, want the revoker session refused", err)
	}
	for _, c := range f.Calls() {
		if c.Action == "PutRolePolicy" {
			t.Fatalf("wrote a policy: %+v", c)
		}
	}
}

// Before: a failed PutRolePolicy still led to revocation_enforced in some
// paths; now Revoke returns an error (the server audits revocation_failed),
// and nil only after IAM returned the Deny on read-back.
func TestRevokeWhenIAMRefusesTheWriteFails(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	f.FailPut(otherAccount, "prod-admin", "AccessDenied")
	err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(otherAccount, "prod-admin"), RequestID: "r", Until: now.Add(time.Hour)})
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindAccessDenied || !strings.Contains(err.Error(), "role "+roleARN(otherAccount, "prod-admin")) {
		t.Fatalf("err = %v, want KindAccessDenied naming the role ARN", err)
	}
}

// Another writer (a person, an old jit) replaces the policy between jit's
// write and its read-back: jit notices and merges again.
func TestRevokeRetriesWhenAnotherWriterDropsTheDeny(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	var once sync.Once
	f.AfterPut = func(account, role string) {
		once.Do(func() {
			f.SetPolicy(account, role, vend.RevocationPolicyName, `{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)
		})
	}
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(serverAccount, "prod-admin"), RequestID: "r", Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := statements(t, f, serverAccount, "prod-admin")
	if len(got) != 2 || got[0].Sid != "Other" || !strings.HasPrefix(got[1].Sid, "JitRevoke") {
		t.Fatalf("statements = %+v, want the other writer's and jit's", got)
	}
	// A writer that always wins makes Revoke fail rather than claim success.
	f.AfterPut = func(account, role string) {
		f.SetPolicy(account, role, vend.RevocationPolicyName, `{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Deny","Action":"s3:*","Resource":"*"}]}`)
	}
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(serverAccount, "prod-admin"), RequestID: "r2", Until: now.Add(time.Hour)}); err == nil {
		t.Fatal("revoke claimed success while its Deny was never there")
	}
}

// Before: the cut-off was the revoke time truncated to the second, so a
// session issued later in that same second (or a little ahead on AWS's
// clock) escaped the Deny.
func TestRevokeCutoffCoversASessionIssuedInTheRevokesOwnSecond(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 700_000_000, time.UTC)
	f, r := newRevoker(t, &now, nil)
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(serverAccount, "prod-admin"), RequestID: "req_s",
		User: "alice@example.com", IssuedBefore: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	at := now.Add(time.Second)
	for _, issued := range []time.Time{
		now.Add(-time.Minute),               // long before
		now.Add(200 * time.Millisecond),     // the revoke's own second, after it
		now.Add(vend.RevokeClockSkew - 1e6), // AWS's clock ahead by the skew margin
	} {
		sess := fakeiam.Session{SourceIdentity: "alice@example.com", RequestTag: "req_s", IssuedAt: issued}
		if !f.Denies(serverAccount, "prod-admin", vend.RevocationPolicyName, sess, at) {
			t.Errorf("a session issued at %s escapes the revocation at %s", issued.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
		}
	}
	other := fakeiam.Session{SourceIdentity: "alice@example.com", RequestTag: "req_other", IssuedAt: now}
	if f.Denies(serverAccount, "prod-admin", vend.RevocationPolicyName, other, at) {
		t.Fatal("the Deny hit another grant's session")
	}
	if got := vend.IssueCutoff(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2030, 1, 1, 12, 0, 6, 0, time.UTC)) {
		t.Fatalf("IssueCutoff(whole second) = %s, want the next second after the margin", got)
	}
}

// Two jit servers on one PostgreSQL revoke on the same role at once: the
// advisory lock keyed on the role ARN makes them take turns, so no Deny is
// lost to the other's read-modify-write.
func TestConcurrentRevokersOnOnePostgresKeepEachOthersDeny(t *testing.T) {
	dsn := testenv.Postgres(t)
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f := fakeiam.New(t)
	f.AddRole(serverAccount, "prod-admin")
	f.GetDelay = 20 * time.Millisecond // a read well before the write: the window a lost update needs
	var revokers []*vend.IAMRevoker
	for range 2 {
		st, err := postgres.Open(t.Context(), dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		r, err := vend.NewIAMRevoker(vend.IAMConfig{Endpoint: f.URL, STSEndpoint: f.URL, Credentials: f.Keys(serverAccount),
			Identity: fixedIdentity(serverAccount), Lock: st.WithLock, Attempts: 1, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		revokers = append(revokers, r)
	}
	const n = 6
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := revokers[i%2].Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(serverAccount, "prod-admin"),
				RequestID: fmt.Sprint("req_", i), Until: now.Add(time.Hour)})
			if err != nil {
				t.Errorf("revoke %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got := statements(t, f, serverAccount, "prod-admin"); len(got) != n {
		t.Fatalf("%d Denies stored, want %d: %+v", len(got), n, got)
	}
}

type fixedCreds struct{}

func (fixedCreds) Retrieve(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil }

func TestRevokePrunesEntriesPastTheirLongestSession(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	arn := roleARN(serverAccount, "prod-admin")
	for i, until := range []time.Duration{10 * time.Minute, time.Hour} {
		if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: arn, RequestID: fmt.Sprint("r", i), Until: now.Add(until)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(statements(t, f, serverAccount, "prod-admin")); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	now = now.Add(30 * time.Minute) // r0's sessions have all expired
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: arn, User: "bob", IssuedBefore: now, Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := statements(t, f, serverAccount, "prod-admin")
	if len(got) != 2 || got[0].Condition["StringEquals"]["aws:PrincipalTag/jit-request-id"] != "r1" ||
		got[1].Condition["StringEquals"]["aws:SourceIdentity"] != "bob" {
		t.Fatalf("after pruning: %+v", got)
	}
	// Once everything has expired, a revocation whose sessions are gone
	// already leaves no policy behind.
	now = now.Add(2 * time.Hour)
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: arn, RequestID: "old", Until: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got := statements(t, f, serverAccount, "prod-admin"); got != nil {
		t.Fatalf("policy left behind: %+v", got)
	}
	calls := f.Calls()
	if last := calls[len(calls)-1]; last.Action != "DeleteRolePolicy" {
		t.Fatalf("last call %s, want DeleteRolePolicy", last.Action)
	}
}

func TestRevokeRefusesToExceedIAMsLimit(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f, r := newRevoker(t, &now, nil)
	var err error
	n := 0
	for ; n < 200 && err == nil; n++ {
		err = r.Revoke(t.Context(), vend.RevokeInput{RoleARN: roleARN(serverAccount, "prod-admin"), RequestID: fmt.Sprintf("01JREQ%020d", n), Until: now.Add(time.Hour)})
	}
	var ve *vend.Error
	if !errors.As(err, &ve) || ve.Kind != vend.KindPolicyTooLarge || !strings.Contains(ve.Hint, "2030-01-01T13:00:00Z") {
		t.Fatalf("after %d revocations: err = %v, want KindPolicyTooLarge naming when entries expire", n, err)
	}
	if got := len(statements(t, f, serverAccount, "prod-admin")); got != n-1 {
		t.Fatalf("stored %d entries, want the %d that fit", got, n-1)
	}
}

func TestRevokeErrors(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	_, r := newRevoker(t, &now, nil)
	var ve *vend.Error
	arn := roleARN(serverAccount, "x")
	for _, in := range []vend.RevokeInput{
		{RoleARN: "not-an-arn", RequestID: "r", Until: now.Add(time.Hour)},
		{RoleARN: arn, RequestID: "r"},                           // no Until
		{RoleARN: arn, User: "alice", Until: now.Add(time.Hour)}, // user without IssuedBefore
	} {
		if err := r.Revoke(t.Context(), in); !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput {
			t.Errorf("Revoke(%+v): err = %v, want KindInvalidInput", in, err)
		}
	}
	// A role IAM does not know in the right account.
	if err := r.Revoke(t.Context(), vend.RevokeInput{RoleARN: arn, RequestID: "r", Until: now.Add(time.Hour)}); !errors.As(err, &ve) || ve.Kind != vend.KindInvalidInput {
		t.Fatalf("unknown role: %v, want KindInvalidInput (NoSuchEntity)", err)
	}
}

func TestRoleNameAndAccountFromARN(t *testing.T) {
	for arn, want := range map[string][2]string{
		"arn:aws:iam::123456789012:role/prod-admin":          {"prod-admin", "123456789012"},
		"arn:aws:iam::123456789012:role/team/ops/prod-admin": {"prod-admin", "123456789012"},
		"arn:aws-cn:iam::123456789012:role/x":                {"x", "123456789012"},
		"arn:aws:sts::123456789012:assumed-role/r/s":         {"", "123456789012"},
		"arn:aws:iam::123456789012:user/bob":                 {"", "123456789012"},
		"arn:aws:iam::12345:role/x":                          {"x", ""},
	} {
		if got := [2]string{vend.RoleNameFromARN(arn), vend.AccountFromARN(arn)}; got != want {
			t.Errorf("(RoleNameFromARN, AccountFromARN)(%q) = %q, want %q", arn, got, want)
		}
	}
}
