package awscheck_test

// AWS does not run here: the check runs against internal/fakeiam, a FAKE
// of STS and IAM that answers AssumeRole only for roles registered as
// assumable (with their external id) and keeps roles per account.

import (
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeiam"
	"github.com/jit-access/jit/pkg/awscheck"
	"github.com/jit-access/jit/pkg/policy"
	"github.com/jit-access/jit/pkg/vend"
)

const (
	serverAccount = "111111111111"
	otherAccount  = "222222222222"
	thirdAccount  = "333333333333" // no revoker configured
)

func arn(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

func TestCheckReportsWhichRolesTheServerCanAssumeAndRevokeOn(t *testing.T) {
	f := fakeiam.New(t)
	f.AddRole(serverAccount, "jit-dev")
	f.AddAssumableRole(arn(serverAccount, "jit-dev"), "")
	f.AddRole(otherAccount, "jit-prod")
	f.AddAssumableRole(arn(otherAccount, "jit-prod"), "")
	f.AddAssumableRole(arn(otherAccount, "jit-revoker"), "ext-1")
	f.AddRole(otherAccount, "jit-untrusting") // its trust policy does not name the server
	f.AddRole(thirdAccount, "jit-third")
	f.AddAssumableRole(arn(thirdAccount, "jit-third"), "")

	vendor, err := vend.NewSTS(vend.STSConfig{Endpoint: f.URL, Credentials: f.Keys(serverAccount)})
	if err != nil {
		t.Fatal(err)
	}
	revoker, err := vend.NewIAMRevoker(vend.IAMConfig{Endpoint: f.URL, STSEndpoint: f.URL, Credentials: f.Keys(serverAccount),
		Revokers: map[string]vend.RevokerRole{otherAccount: {RoleARN: arn(otherAccount, "jit-revoker"), ExternalID: "ext-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	roles := []*policy.Role{
		{Name: "dev", TargetSpec: policy.TargetSpec{ARN: arn(serverAccount, "jit-dev")}},
		{Name: "prod", TargetSpec: policy.TargetSpec{ARN: arn(otherAccount, "jit-prod")}},
		{Name: "untrusting", TargetSpec: policy.TargetSpec{ARN: arn(otherAccount, "jit-untrusting")}},
		{Name: "third", TargetSpec: policy.TargetSpec{ARN: arn(thirdAccount, "jit-third")}},
	}
	got := awscheck.Run(t.Context(), roles, vendor, revoker, time.Now())
	if len(got) != 4 {
		t.Fatalf("%d results", len(got))
	}
	want := []struct {
		assumeOK, revokeOK bool
		why                string
	}{{true, true, ""}, {true, true, ""}, {false, true, "AccessDenied"}, {true, false, "no revoker role for account " + thirdAccount}}
	for i, w := range want {
		r := got[i]
		if (r.Assume == nil) != w.assumeOK || (r.Revoke == nil) != w.revokeOK || !r.RevokeChecked {
			t.Errorf("%s: assume %v, revoke %v; want assume ok %v, revoke ok %v", r.Role, r.Assume, r.Revoke, w.assumeOK, w.revokeOK)
		}
		if w.why != "" && !strings.Contains(errText(r.Assume)+errText(r.Revoke), w.why) {
			t.Errorf("%s: %v / %v, want %q", r.Role, r.Assume, r.Revoke, w.why)
		}
	}
	// The probe is a vend as jit makes it: the request tag and the
	// check's SourceIdentity, into the role's own account; the revoker
	// was assumed for the other account and nothing was written.
	var assumed, puts int
	for _, c := range f.Calls() {
		switch c.Action {
		case "AssumeRole":
			assumed++
		case "PutRolePolicy", "DeleteRolePolicy":
			puts++
		}
	}
	if assumed < 4 || puts != 0 {
		t.Errorf("AssumeRole calls %d (want the 4 probes and the revoker), writes %d (want none)", assumed, puts)
	}

	without := awscheck.Run(t.Context(), roles[:1], vendor, nil, time.Now())
	if without[0].RevokeChecked || !without[0].OK() {
		t.Errorf("without revocation at AWS: %+v", without[0])
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
