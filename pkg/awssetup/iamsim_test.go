package awssetup_test

// The trust, server and revoker policies of docs/aws-setup.md, taken from
// the docs themselves (docBlocks) and from the generator, evaluated by an
// independent IAM evaluator (internal/iamsim) for what the docs promise.

import (
	"testing"

	"github.com/jit-access/jit/internal/iamsim"
	"github.com/jit-access/jit/pkg/awssetup"
)

const (
	serverSession  = "arn:aws:sts::111111111111:assumed-role/jit-server/i-0abc"
	revokerSession = "arn:aws:sts::123456789012:assumed-role/jit-revoker/jit-server"
	allowAll       = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	// trustAccount111 trusts every principal of the server's account that
	// its own identity policy lets assume the role.
	trustAccount111 = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}`
)

// variants are the same document from the docs and from the generator:
// each case is evaluated on both.
func variants(t *testing.T, name string) map[string]string {
	t.Helper()
	return map[string]string{"docs": docBlocks(t)[name], "generator": docGenerated()[name].JSON()}
}

type simCase struct {
	name      string
	principal string
	action    string
	resource  string
	account   string // the resource's account
	context   map[string]any
	identity  string // the caller's identity policy
	mayIgnore []string
	// trust is the resource policy when the case does not use the one
	// under test.
	trust string
	want  string
}

func (c simCase) run(t *testing.T, sim *iamsim.Simulator, resourcePolicy string) string {
	t.Helper()
	ctx := c.context
	if ctx == nil {
		ctx = map[string]any{}
	}
	return sim.Decide(t, iamsim.Simulation{
		Request: iamsim.Request{Principal: c.principal, Action: c.action, Resource: c.resource,
			ResourceAccount: c.account, Context: ctx},
		IdentityPolicies: []iamsim.Policy{{Name: "caller", Document: c.identity}},
		ResourcePolicy:   resourcePolicy,
		MayIgnore:        c.mayIgnore,
	})
}

// vendContext is the context of the server's AssumeRole call as pkg/vend
// makes it: the request tag, the SourceIdentity.
func vendContext(tag string) map[string]any {
	ctx := map[string]any{
		"aws:PrincipalArn":    "arn:aws:iam::111111111111:role/jit-server",
		"sts:SourceIdentity":  "alice@example.com",
		"sts:RoleSessionName": "alice@example.com",
		"aws:CurrentTime":     "2026-12-07T12:00:00Z",
	}
	if tag != "" {
		ctx["aws:RequestTag/jit-request-id"] = tag
		ctx["aws:TagKeys"] = []string{"jit-request-id", "jit-user"}
	}
	return ctx
}

func TestAWSSetupTargetTrustPolicyFromTheDocsLetsOnlyTheJitServerAssumeWithARequestTag(t *testing.T) {
	sim := iamsim.Start(t)
	serverPolicy := docGenerated()["server-policy"].JSON()
	cases := []simCase{}
	for _, action := range []string{"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"} {
		// AWS evaluates the one AssumeRole call's context for each of the
		// three actions; the evaluator drops the session name for the
		// last two, which do not know that key.
		var ignore []string
		switch action {
		case "sts:SetSourceIdentity":
			ignore = []string{"sts:RoleSessionName"}
		case "sts:TagSession":
			ignore = []string{"sts:RoleSessionName", "sts:SourceIdentity"}
		}
		cases = append(cases,
			simCase{name: "jit server with the request tag: " + action, principal: serverSession, action: action,
				context: vendContext("req_01jalice"), identity: serverPolicy, mayIgnore: ignore, want: iamsim.Allowed},
			simCase{name: "jit server without the request tag: " + action, principal: serverSession, action: action,
				context: vendContext(""), identity: serverPolicy, mayIgnore: ignore, want: iamsim.ImplicitlyDenied},
			simCase{name: "jit server with a tag that is not a jit request id: " + action, principal: serverSession, action: action,
				context: vendContext("prod"), identity: serverPolicy, mayIgnore: ignore, want: iamsim.ImplicitlyDenied},
		)
	}
	cases = append(cases,
		simCase{name: "a developer with *:* in the role's own account", principal: "arn:aws:iam::123456789012:user/dev",
			action: "sts:AssumeRole", context: vendContext("req_01jdev"), identity: allowAll, want: iamsim.ImplicitlyDenied},
		simCase{name: "a developer's SSO session with *:* in the role's own account", principal: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/dev@example.com",
			action: "sts:AssumeRole", context: vendContext("req_01jdev"), identity: allowAll, want: iamsim.ImplicitlyDenied},
		simCase{name: "a developer with *:* in the server's account", principal: "arn:aws:iam::111111111111:user/dev",
			action: "sts:AssumeRole", context: vendContext("req_01jdev"), identity: allowAll, want: iamsim.ImplicitlyDenied},
		simCase{name: "a jit session of another target role (chaining)", principal: "arn:aws:sts::111111111111:assumed-role/jit-dev-admin/alice@example.com",
			action: "sts:AssumeRole", context: vendContext("req_01jalice"), identity: allowAll, want: iamsim.ImplicitlyDenied},
	)
	for src, trust := range variants(t, "target-trust") {
		for _, c := range cases {
			c.resource, c.account = docProdAdmin, "123456789012"
			if got := c.run(t, sim, trust); got != c.want {
				t.Errorf("%s trust policy, %s: %s, want %s", src, c.name, got, c.want)
			}
		}
	}
	// Without its identity policy the server cannot assume across accounts
	// even though the trust policy names it: both sides must allow.
	c := simCase{principal: serverSession, action: "sts:AssumeRole", resource: docProdAdmin, account: "123456789012",
		context: vendContext("req_01jalice"), identity: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`}
	if got := c.run(t, sim, docBlocks(t)["target-trust"]); got != iamsim.ImplicitlyDenied {
		t.Errorf("cross-account assume without the server policy: %s, want %s", got, iamsim.ImplicitlyDenied)
	}
}

func TestAWSSetupServerPolicyCannotEditItsOwnRole(t *testing.T) {
	sim := iamsim.Start(t)
	cases := []simCase{
		{name: "revoke on its own account's target", action: "iam:PutRolePolicy", resource: docDevAdmin, account: "111111111111", want: iamsim.Allowed},
		{name: "read the revocations of its own account's target", action: "iam:GetRolePolicy", resource: docDevAdmin, account: "111111111111", want: iamsim.Allowed},
		{name: "write an inline policy on its own role", action: "iam:PutRolePolicy", resource: docServer, account: "111111111111", want: iamsim.ImplicitlyDenied},
		{name: "write an inline policy on another role named jit-*", action: "iam:PutRolePolicy", resource: "arn:aws:iam::111111111111:role/jit-billing", account: "111111111111", want: iamsim.ImplicitlyDenied},
		{name: "attach a managed policy to its own account's target", action: "iam:AttachRolePolicy", resource: docDevAdmin, account: "111111111111", want: iamsim.ImplicitlyDenied},
		{name: "change its own account's target's trust policy", action: "iam:UpdateAssumeRolePolicy", resource: docDevAdmin, account: "111111111111", want: iamsim.ImplicitlyDenied},
		{name: "assume the revoker", action: "sts:AssumeRole", resource: docRevoker, account: "123456789012",
			context: map[string]any{"sts:ExternalId": docExternalID}, trust: docGenerated()["revoker-trust"].JSON(), want: iamsim.Allowed},
		// A role whose trust policy delegates to the server's whole account:
		// only the server's identity policy can stop this.
		{name: "assume a role it does not name", action: "sts:AssumeRole", resource: "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole", account: "123456789012",
			trust: trustAccount111, want: iamsim.ImplicitlyDenied},
	}
	for src, policy := range variants(t, "server-policy") {
		for _, c := range cases {
			c.principal, c.identity = serverSession, policy
			if got := c.run(t, sim, c.trust); got != c.want {
				t.Errorf("%s server policy, %s: %s, want %s", src, c.name, got, c.want)
			}
		}
	}
}

func TestAWSSetupRevokerMayEditOnlyItsAccountsTargetRolesInlinePolicies(t *testing.T) {
	sim := iamsim.Start(t)
	cases := []simCase{
		{name: "write jit-revocations on the target", action: "iam:PutRolePolicy", resource: docProdAdmin, want: iamsim.Allowed},
		{name: "read jit-revocations on the target", action: "iam:GetRolePolicy", resource: docProdAdmin, want: iamsim.Allowed},
		{name: "delete jit-revocations on the target", action: "iam:DeleteRolePolicy", resource: docProdAdmin, want: iamsim.Allowed},
		{name: "write an inline policy on its own role", action: "iam:PutRolePolicy", resource: docRevoker, want: iamsim.ImplicitlyDenied},
		{name: "write an inline policy on another role", action: "iam:PutRolePolicy", resource: "arn:aws:iam::123456789012:role/jit-billing", want: iamsim.ImplicitlyDenied},
		{name: "attach a managed policy to the target", action: "iam:AttachRolePolicy", resource: docProdAdmin, want: iamsim.ImplicitlyDenied},
		{name: "change the target's trust policy", action: "iam:UpdateAssumeRolePolicy", resource: docProdAdmin, want: iamsim.ImplicitlyDenied},
		{name: "assume a role that trusts its account", action: "sts:AssumeRole", resource: "arn:aws:iam::123456789012:role/jit-billing",
			trust: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`, want: iamsim.ImplicitlyDenied},
	}
	for src, policy := range variants(t, "revoker-policy") {
		for _, c := range cases {
			c.principal, c.identity, c.account = revokerSession, policy, "123456789012"
			if got := c.run(t, sim, c.trust); got != c.want {
				t.Errorf("%s revoker policy, %s: %s, want %s", src, c.name, got, c.want)
			}
		}
	}
}

func TestAWSSetupRevokerTrustPolicyFromTheDocsLetsOnlyTheServerWithTheExternalID(t *testing.T) {
	sim := iamsim.Start(t)
	serverPolicy := docGenerated()["server-policy"].JSON()
	ext := func(id string) map[string]any {
		ctx := map[string]any{"aws:PrincipalArn": "arn:aws:iam::111111111111:role/jit-server"}
		if id != "" {
			ctx["sts:ExternalId"] = id
		}
		return ctx
	}
	cases := []simCase{
		{name: "the server with the external id", principal: serverSession, context: ext(docExternalID), identity: serverPolicy, want: iamsim.Allowed},
		{name: "the server without the external id", principal: serverSession, context: ext(""), identity: serverPolicy, want: iamsim.ImplicitlyDenied},
		{name: "the server with another external id", principal: serverSession, context: ext("jit-other"), identity: serverPolicy, want: iamsim.ImplicitlyDenied},
		{name: "a developer with *:* and the external id", principal: "arn:aws:iam::123456789012:user/dev", context: ext(docExternalID), identity: allowAll, want: iamsim.ImplicitlyDenied},
	}
	for src, trust := range variants(t, "revoker-trust") {
		for _, c := range cases {
			c.action, c.resource, c.account = "sts:AssumeRole", docRevoker, "123456789012"
			if got := c.run(t, sim, trust); got != c.want {
				t.Errorf("%s revoker trust policy, %s: %s, want %s", src, c.name, got, c.want)
			}
		}
	}
}

func TestAWSSetupServerPolicyMayWriteCheckpointsButNeverDeleteOrUnlockThem(t *testing.T) {
	sim := iamsim.Start(t)
	p := setupPlan(t, setupConfig)
	policy := awssetup.ServerPolicy(p.ServerInputs()).JSON()
	obj := "arn:aws:s3:::jit-audit-anchor/checkpoints/0000000000000007"
	for _, c := range []simCase{
		{name: "publish a checkpoint", action: "s3:PutObject", resource: obj, want: iamsim.Allowed},
		{name: "set its COMPLIANCE retention", action: "s3:PutObjectRetention", resource: obj, want: iamsim.Allowed},
		{name: "read a version", action: "s3:GetObjectVersion", resource: obj, want: iamsim.Allowed},
		{name: "list every version", action: "s3:ListBucketVersions", resource: "arn:aws:s3:::jit-audit-anchor", want: iamsim.Allowed},
		{name: "write outside the prefix", action: "s3:PutObject", resource: "arn:aws:s3:::jit-audit-anchor/other", want: iamsim.ImplicitlyDenied},
		{name: "delete a version", action: "s3:DeleteObjectVersion", resource: obj, want: iamsim.ImplicitlyDenied},
		{name: "bypass a retention", action: "s3:BypassGovernanceRetention", resource: obj, want: iamsim.ImplicitlyDenied},
		{name: "change the bucket's lock", action: "s3:PutBucketObjectLockConfiguration", resource: "arn:aws:s3:::jit-audit-anchor", want: iamsim.ImplicitlyDenied},
		{name: "change the bucket's policy", action: "s3:PutBucketPolicy", resource: "arn:aws:s3:::jit-audit-anchor", want: iamsim.ImplicitlyDenied},
	} {
		c.principal, c.identity, c.account = serverSession, policy, "111111111111"
		if got := c.run(t, sim, ""); got != c.want {
			t.Errorf("generated server policy with an anchor, %s: %s, want %s", c.name, got, c.want)
		}
	}
}
