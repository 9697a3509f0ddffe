package awsrole_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/target"
	"github.com/jit-access/jit/pkg/target/awsrole"
	"github.com/jit-access/jit/pkg/vend"
)

// recordingRevoker is a named fake of vend.IAMRevoker (IAM does not run
// here; pkg/vend tests the real one against internal/fakeiam).
type recordingRevoker struct {
	calls []vend.RevokeInput
	err   error
	check error
}

func (r *recordingRevoker) Revoke(_ context.Context, in vend.RevokeInput) error {
	r.calls = append(r.calls, in)
	return r.err
}

func (r *recordingRevoker) CheckRoles(context.Context, map[string]string) error { return r.check }

var now = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

func grant(vends int) target.Grant {
	return target.Grant{
		Request: &api.Request{ID: "req_1", Requester: "alice@example.com", Role: "ro", VendCount: vends, EndsAt: now.Add(time.Hour)},
		Role:    &policy.Role{Name: "ro", TargetSpec: policy.TargetSpec{ARN: "arn:aws:iam::123456789012:role/ro", MaxSessionDuration: 2 * time.Hour}},
		By:      "bob@example.com",
	}
}

func TestEarlyEndWritesTheDenyOnlyForAGrantThatVended(t *testing.T) {
	rv := &recordingRevoker{}
	tg := awsrole.New(awsrole.Options{Revoker: rv, SessionCap: time.Hour})
	if res, err := tg.End(context.Background(), grant(0), true, now); err != nil || res.Done || len(rv.calls) != 0 {
		t.Fatalf("a grant with no credentials: %+v %v, calls %d", res, err, len(rv.calls))
	}
	if res, err := tg.End(context.Background(), grant(1), false, now); err != nil || res.Done || len(rv.calls) != 0 {
		t.Fatalf("expiry wrote a Deny: %+v %v", res, err)
	}
	res, err := tg.End(context.Background(), grant(1), true, now)
	if err != nil || !res.Done || len(rv.calls) != 1 {
		t.Fatalf("early end: %+v %v", res, err)
	}
	// No vend record to read: the Deny lasts the longest session, capped.
	if c := rv.calls[0]; c.RequestID != "req_1" || !c.Until.Equal(now.Add(time.Hour)) || !c.IssuedBefore.Equal(now) {
		t.Fatalf("revoke input %+v", c)
	}
	if !res.AccessUntil.Equal(now.Add(awsrole.PropagationWindow)) {
		t.Fatalf("access until %s, want the propagation window", res.AccessUntil)
	}
}

func TestWithoutARevokerIssuedCredentialsOutliveAnEarlyEndUntilTheGrantsEnd(t *testing.T) {
	tg := awsrole.New(awsrole.Options{})
	res, err := tg.End(context.Background(), grant(1), true, now)
	if err != nil || res.Done || !res.AccessUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("%+v %v, want nothing done and access until the grant's end", res, err)
	}
	rv := &recordingRevoker{err: errors.New("AccessDenied")}
	if res, err := awsrole.New(awsrole.Options{Revoker: rv}).End(context.Background(), grant(1), true, now); err == nil || !res.AccessUntil.Equal(now.Add(time.Hour)) {
		t.Fatalf("a failed Deny: %+v %v, want the error and access until the grant's end", res, err)
	}
}

func TestCheckNamesTheSettingARoleFails(t *testing.T) {
	rv := &recordingRevoker{check: errors.New("role ro: needs a revoker in account 123456789012")}
	err := awsrole.New(awsrole.Options{Revoker: rv}).Check(context.Background(), []*policy.Role{grant(0).Role})
	if err == nil || !strings.HasPrefix(err.Error(), "aws.revoke_with_inline_policy: role ro") {
		t.Fatalf("check: %v", err)
	}
	if err := awsrole.New(awsrole.Options{}).Check(context.Background(), nil); err != nil {
		t.Fatalf("no revoker, nothing to check: %v", err)
	}
}

func TestCredentialsWithoutSTSAreUnavailableWithAReason(t *testing.T) {
	_, err := awsrole.New(awsrole.Options{}).Credentials(context.Background(), grant(0), now)
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodeUnavailable {
		t.Fatalf("credentials without a vendor: %v", err)
	}
}
