package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

var testIssuers = []Issuer{
	{Name: "oidc"},
	{Name: "github", Workload: true, Flavor: FlavorGitHub, Identifying: FlavorIdentifying(FlavorGitHub)},
	{Name: "k8s", Workload: true, Flavor: FlavorKubernetes, Identifying: FlavorIdentifying(FlavorKubernetes)},
}

const workloadPolicy = `
admins: {groups: [admins]}
roles:
  - name: deploy
    arn: arn:aws:iam::123456789012:role/deploy
    eligible:
      groups: [developers]
      workloads:
        - issuer: github
          claims: {repository_owner_id: "9", repository: "octo/*", ref: "refs/heads/release/*"}
        - issuer: k8s
          claims: {namespace: prod, serviceaccount: deployer}
    auto_approve:
      workloads: [{issuer: k8s, claims: {namespace: prod, serviceaccount: deployer}}]
      max_duration: 15m
    approvers: {groups: [approvers]}
`

func ghWorkload(claims map[string]string) api.User {
	return api.User{Kind: api.KindWorkload, IssuerName: "github", Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:x", Claims: claims}
}

func TestWorkloadSubjectsMatchClaimsExactlyOrByGlob(t *testing.T) {
	p, err := ParseWithIssuers("policy.yaml", []byte(workloadPolicy), testIssuers)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := p.Role("deploy")
	ok := map[string]string{"repository_owner_id": "9", "repository": "octo/app", "ref": "refs/heads/release/v2"}
	if !r.Eligible.Match(ghWorkload(ok)) {
		t.Fatal("octo/app on release/v2 should match")
	}
	for name, change := range map[string][2]string{
		"another owner id":        {"repository_owner_id", "10"},
		"a glob does not cross /": {"ref", "refs/heads/release/v2/evil"},
		"another branch":          {"ref", "refs/heads/main"},
	} {
		c := map[string]string{}
		for k, v := range ok {
			c[k] = v
		}
		c[change[0]] = change[1]
		if r.Eligible.Match(ghWorkload(c)) {
			t.Errorf("%s matched", name)
		}
	}
	delete(ok, "ref")
	if r.Eligible.Match(ghWorkload(ok)) {
		t.Error("a token without the ref claim matched")
	}
	// Kubernetes' short names are the nested claims.
	k8s := api.User{Kind: api.KindWorkload, IssuerName: "k8s", Subject: "system:serviceaccount:prod:deployer",
		Claims: map[string]string{"kubernetes.io/namespace": "prod", "kubernetes.io/serviceaccount/name": "deployer"}}
	out, _, err := p.CheckRequest(k8s, api.CreateRequest{Role: "deploy", DurationSeconds: 600})
	if err != nil || !out.AutoApproved {
		t.Fatalf("the prod deployer's request: %+v %v", out, err)
	}
	// The same claims from another issuer are another workload.
	k8s.IssuerName = "github"
	if r.Eligible.Match(k8s) {
		t.Error("a subject matched a token of another issuer")
	}
}

func TestWorkloadNeverMatchesPeoplesEntriesNorDecides(t *testing.T) {
	p, err := ParseWithIssuers("policy.yaml", []byte(workloadPolicy), testIssuers)
	if err != nil {
		t.Fatal(err)
	}
	w := api.User{Kind: api.KindWorkload, IssuerName: "github", Subject: "repo:octo/app:ref:refs/heads/main",
		Username: "boss@example.com", Email: "boss@example.com", Groups: []string{"approvers", "admins", "developers"}}
	r, _ := p.Role("deploy")
	if r.Eligible.Match(w) || r.Approvers.Match(w) || p.IsAdmin(w) {
		t.Fatal("a workload matched people's users or groups")
	}
	req := &api.Request{ID: "r1", Role: "deploy", State: api.StatePending, RequesterSubject: "alice", RequesterIssuer: "https://idp"}
	for verb, err := range map[string]error{"approve": p.CanApprove(w, req), "deny": p.CanDeny(w, req)} {
		if err == nil || !strings.Contains(err.Error(), "workloads never "+verb) {
			t.Errorf("%s: %v", verb, err)
		}
	}
	req.State, req.StartsAt, req.ReviewRequired = api.StateApproved, time.Now(), true
	if err := p.CanReview(w, req); err == nil || !strings.Contains(err.Error(), "workloads never review") {
		t.Errorf("review: %v", err)
	}
}

func TestPinnedValuesLeaveOnlyTheLastSegmentOpen(t *testing.T) {
	for val, want := range map[string]bool{
		"octo/app": true, "octo/*": true, "repo:octo/app:*": true, "123": true,
		"*": false, "oct*": false, "*/app": false, "octo/a?p": false, "o*/*": false, "": false, "/*": false,
	} {
		if got := pinned(val); got != want {
			t.Errorf("pinned(%q) = %t, want %t", val, got, want)
		}
	}
}

func TestWorkloadsInPolicyWithoutWorkloadIssuersAreRefused(t *testing.T) {
	_, err := Parse("policy.yaml", []byte(workloadPolicy))
	if err == nil || !strings.Contains(err.Error(), "none of kind workload") {
		t.Fatalf("got %v", err)
	}
}

func TestAgentRequestsWaitForAPersonUnlessTheRoleSaysOtherwise(t *testing.T) {
	p := mustParse(t, `
roles:
  - name: auto
    arn: arn:aws:iam::123456789012:role/auto
    eligible: {groups: [developers]}
    auto_approve: {groups: [developers]}
    approvers: {groups: [approvers]}
    break_glass: {allowed: true}
  - name: trusted-agents
    arn: arn:aws:iam::123456789012:role/trusted
    eligible: {groups: [developers]}
    auto_approve: {groups: [developers]}
    agents: {human_approval: false}
  - name: people-only
    arn: arn:aws:iam::123456789012:role/people
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    agents: {allowed: false}
`)
	dev := api.User{Subject: "d", Username: "dev@example.com", Groups: []string{"developers"}}
	if out, _, err := p.CheckRequest(dev, api.CreateRequest{Role: "auto", Reason: "x"}); err != nil || !out.AutoApproved {
		t.Fatalf("the person's own request: %+v %v", out, err)
	}
	out, _, err := p.CheckRequest(dev, api.CreateRequest{Role: "auto", Reason: "x", Agent: "claude-code"})
	if err != nil || out.AutoApproved || out.ApprovalsNeeded != 1 || !strings.Contains(out.Why, "always waits for a person") {
		t.Fatalf("the agent's request on an auto-approved role: %+v %v", out, err)
	}
	if _, _, err := p.CheckRequest(dev, api.CreateRequest{Role: "auto", Reason: "x", Agent: "claude-code", BreakGlass: true}); err == nil || !strings.Contains(err.Error(), "never breaks glass") {
		t.Fatalf("an agent breaking glass: %v", err)
	}
	if out, _, err := p.CheckRequest(dev, api.CreateRequest{Role: "trusted-agents", Reason: "x", Agent: "claude-code"}); err != nil || !out.AutoApproved {
		t.Fatalf("human_approval: false: %+v %v", out, err)
	}
	if _, _, err := p.CheckRequest(dev, api.CreateRequest{Role: "people-only", Reason: "x", Agent: "claude-code"}); err == nil || !strings.Contains(err.Error(), "agents may not request people-only") {
		t.Fatalf("allowed: false: %v", err)
	}
}
