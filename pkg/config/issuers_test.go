package config

import (
	"strings"
	"testing"
)

const withIssuers = `oidc: {issuer: https://idp.example.com, client_id: jit-cli}
store: {dsn: "sqlite:///tmp/jit.db"}
issuers:
  - name: github
    issuer: https://token.actions.githubusercontent.com
    audience: https://jit.example.com
    flavor: github
  - name: contractors
    kind: human
    issuer: https://login.contractors.example
    audience: jit-contractors
roles:
  - name: deploy
    arn: arn:aws:iam::123456789012:role/deploy
    eligible:
      workloads:
        - issuer: github
          claims: {repository_id: "123", ref: refs/heads/main}
    approvers: {groups: [approvers]}
`

func TestIssuersAreTrustedBesideTheOIDCBlock(t *testing.T) {
	c, err := Parse("jit.yaml", []byte(withIssuers))
	if err != nil {
		t.Fatal(err)
	}
	got := c.TrustedIssuers()
	if len(got) != 3 || got[0].Name != "oidc" || got[0].Kind != KindHuman || got[0].Audience != "jit-cli" {
		t.Fatalf("trusted issuers: %+v", got)
	}
	gh := got[1]
	if gh.Kind != KindWorkload || gh.MaxTokenLifetime.D() != DefaultWorkloadTokenLifetime || !strings.Contains(strings.Join(gh.IdentifyingClaims, ","), "repository_id") {
		t.Fatalf("github defaults: %+v", gh)
	}
	if got[2].GroupsClaim != "groups" {
		t.Fatalf("human issuer defaults: %+v", got[2])
	}
}

func TestIssuerConfigRefusals(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"audience of the oidc block", "audience: https://jit.example.com", "audience: jit-cli",
			`issuers[0].audience: "jit-cli" is also the audience of oidc.client_id`},
		{"two issuers with one audience", "audience: jit-contractors", "audience: https://jit.example.com",
			`issuers[1].audience: "https://jit.example.com" is also the audience of issuers[0].audience`},
		{"an issuer trusted twice", "issuer: https://login.contractors.example", "issuer: https://token.actions.githubusercontent.com",
			"is also issuers[0].issuer"},
		{"the oidc block's issuer again", "issuer: https://login.contractors.example", "issuer: https://idp.example.com", "is also oidc.issuer"},
		{"the name oidc", "name: contractors", "name: oidc", `"oidc" is already the name of oidc`},
		{"an unknown kind", "kind: human", "kind: robot", `"robot" is not an issuer kind`},
		{"a workload with a username claim", "flavor: github", "flavor: github\n    username_claim: actor", "a workload has no username"},
		{"an unknown flavor", "flavor: github", "flavor: jenkins", `"jenkins" is not a flavor`},
		{"plain http", "https://token.actions.githubusercontent.com", "http://token.example.com", "uses plain http"},
		{"a workload issuer as approver", "approvers: {groups: [approvers]}",
			"approvers: {groups: [approvers], workloads: [{issuer: github, claims: {repository_id: \"1\"}}]}",
			"roles[0].approvers.workloads: workloads never approve"},
		{"a people's issuer under workloads", "- issuer: github", "- issuer: contractors", `"contractors" is an issuer of people`},
		{"an unknown issuer under workloads", "- issuer: github", "- issuer: gitlab", `"gitlab" is not a workload issuer of the server config (issuers: github)`},
		{"only claims the job chooses", `claims: {repository_id: "123", ref: refs/heads/main}`, `claims: {ref: refs/heads/main, environment: prod}`,
			"pins none of the claims that identify who controls a github workload"},
		{"a glob over the owner", `claims: {repository_id: "123", ref: refs/heads/main}`, `claims: {repository: "oct*", ref: refs/heads/main}`,
			"pins none of the claims"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(withIssuers, tc.from) {
				t.Fatalf("fixture has no %q", tc.from)
			}
			_, err := Parse("jit.yaml", []byte(strings.Replace(withIssuers, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWorkloadSubjectWithAnOwnerGlobIsAccepted(t *testing.T) {
	cfg := strings.Replace(withIssuers, `claims: {repository_id: "123", ref: refs/heads/main}`, `claims: {repository: "octo/*", repository_owner_id: "9", ref: "refs/heads/*"}`, 1)
	if _, err := Parse("jit.yaml", []byte(cfg)); err != nil {
		t.Fatal(err)
	}
}
