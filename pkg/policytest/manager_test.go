package policytest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/policy"
)

const managerPolicy = `
roles:
  - name: billing
    arn: arn:aws:iam::123456789012:role/billing
    eligible: {groups: [dev]}
    approvers: {manager_of_requester: true}
  - name: billing-or-leads
    arn: arn:aws:iam::123456789012:role/billing2
    eligible: {groups: [dev]}
    approvers: {groups: [leads], manager_of_requester: true}
`

func TestCasesStateTheRequestersManagerAndTheManagerRuleIsChecked(t *testing.T) {
	p, err := policy.Parse("jit.yaml", []byte(managerPolicy))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("tests.yaml", []byte(`cases:
  - name: the manager approves
    principal: {user: dana@example.com, groups: [dev], manager: max@example.com}
    role: billing
    expect:
      outcome: needs_approval
      why: "manager is max@example.com"
      may_approve: [{user: max@example.com}]
      may_not_approve: [{user: dana@example.com}, {user: lee@example.com, groups: [leads]}]
  - name: no manager on record and nobody else approves
    principal: {user: dana@example.com, groups: [dev]}
    role: billing
    expect: {outcome: refused, rule: "roles[billing].approvers.manager_of_requester"}
  - name: her own manager cannot approve
    principal: {user: dana@example.com, groups: [dev], manager: Dana@example.com}
    role: billing-or-leads
    expect:
      outcome: needs_approval
      why: "own manager"
      may_approve: [{user: lee@example.com, groups: [leads]}]
      may_not_approve: [{user: dana@example.com}]
`))
	if err != nil {
		t.Fatal(err)
	}
	res := Run(p, s)
	var b bytes.Buffer
	if err := WriteLines(&b, res); err != nil {
		t.Fatal(err)
	}
	if Failed(res) != 0 || !strings.Contains(b.String(), "3 passed, 0 failed") {
		t.Fatalf("manager cases:\n%s", b.String())
	}
}
