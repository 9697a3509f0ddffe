package policytest

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/policy"
)

const testPolicy = `
roles:
  - name: prod
    arn: arn:aws:iam::123456789012:role/prod
    eligible: {groups: [dev, sre]}
    approvers: {groups: [leads]}
    approvals_required: 2
    max_duration: 4h
    default_duration: 1h
    auto_approve: {groups: [sre], max_duration: 30m}
    break_glass: {allowed: true, groups: [oncall], max_duration: 1h}
    max_extensions: 2
    max_total_duration: 8h
`

func mustPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("jit.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, tests string) ([]Result, string) {
	t.Helper()
	s, err := Parse("tests.yaml", []byte(tests))
	if err != nil {
		t.Fatal(err)
	}
	res := Run(mustPolicy(t), s)
	var b bytes.Buffer
	if err := WriteLines(&b, res); err != nil {
		t.Fatal(err)
	}
	return res, b.String()
}

func TestWrongExpectationsFailWithWhatDiffersAndWhere(t *testing.T) {
	res, out := run(t, `cases:
  - name: sre short is auto-approved
    principal: {user: sam@example.com, groups: [sre]}
    role: prod
    duration: 20m
    expect: {outcome: needs_approval}
  - name: dev waits for two leads
    principal: {user: dana@example.com, groups: [dev]}
    role: prod
    expect: {outcome: needs_approval, approvals: 1, rule: "roles[prod].auto_approve", why: "from nobody"}
`)
	if Failed(res) != 2 {
		t.Fatalf("failed = %d, want 2:\n%s", Failed(res), out)
	}
	for _, want := range []string{
		"FAIL tests.yaml:2 sre short is auto-approved: auto_approved for 20m by roles[prod].auto_approve",
		"outcome is auto_approved, want needs_approval",
		"FAIL tests.yaml:7 dev waits for two leads: needs_approval (2) for 1h by roles[prod].approvers",
		"needs 2 approval(s), want 1",
		"decided by roles[prod].approvers, want roles[prod].auto_approve",
		`the explanation does not contain "from nobody"`,
		"0 passed, 2 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestApproverChecksNeverLetTheRequesterApprove(t *testing.T) {
	res, out := run(t, `cases:
  - name: a lead's own request
    principal: {user: lee@example.com, groups: [dev, leads]}
    role: prod
    expect:
      outcome: needs_approval
      may_approve: [{user: lee@example.com, groups: [leads]}]
`)
	if Failed(res) != 1 || !strings.Contains(out, "lee@example.com may not approve: a requester never approves their own request") {
		t.Fatalf("self-approval passed:\n%s", out)
	}
	// The same person under another subject but the same verified email is
	// still the requester.
	res, out = run(t, `cases:
  - name: a second account with the same email
    principal: {user: lee@example.com, groups: [dev, leads]}
    role: prod
    expect:
      outcome: needs_approval
      may_not_approve: [{user: lee@example.com, subject: other-account, groups: [leads]}]
      may_approve: [{user: kim@example.com, groups: [leads]}]
`)
	if Failed(res) != 0 {
		t.Fatalf("%s", out)
	}
}

func TestExtensionsPastTheAutoApproveLimitWaitForApprovers(t *testing.T) {
	res, out := run(t, `cases:
  - name: sre extends alone within 30m
    principal: {user: sam@example.com, groups: [sre]}
    role: prod
    duration: 15m
    extend: {by: 15m}
    expect: {outcome: extends, duration: 30m}
  - name: sre past 30m waits for two leads, not for himself
    principal: {user: sam@example.com, groups: [sre, leads]}
    role: prod
    duration: 30m
    extend: {by: 30m}
    expect:
      outcome: needs_approval
      approvals: 2
      rule: "roles[prod].auto_approve.max_duration"
      may_approve: [{user: lee@example.com, groups: [leads]}]
      may_not_approve: [{user: sam@example.com, groups: [leads]}]
  - name: the third extension is refused
    principal: {user: dana@example.com, groups: [dev]}
    role: prod
    extend: {by: 1h, used: 2}
    expect: {outcome: refused, rule: "roles[prod].max_extensions", why: "used all 2 extension(s)"}
  - name: break-glass past its 1h waits
    principal: {user: olga@example.com, groups: [dev, oncall]}
    role: prod
    break_glass: true
    reason: outage
    duration: 45m
    extend: {by: 30m}
    expect: {outcome: needs_approval, rule: "roles[prod].break_glass.max_duration", duration: 75m}
`)
	if Failed(res) != 0 {
		t.Fatalf("%s", out)
	}
}

func TestTestsFileErrorsNameFileAndLine(t *testing.T) {
	_, err := Parse("tests.yaml", []byte(`cases:
  - name: one
    principal: {groups: [dev]}
    role: prod
    expect: {outcome: approved}
  - name: one
    principal: {user: a@example.com}
    role: prod
    duraton: 1h
    expect: {outcome: refused, approvals: 2}
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"tests.yaml:3:17: cases[0].principal: a principal needs user:",
		`tests.yaml:5:23: cases[0].expect.outcome: "approved" is not an outcome here; use one of auto_approved, break_glass, needs_approval, refused`,
		`tests.yaml:6:11: cases[1].name: case "one" is defined twice`,
		`tests.yaml:9:5: cases[1]: unknown key "duraton"`,
		"cases[1].expect: approvals, may_approve and may_not_approve apply only to outcome needs_approval",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if _, err := Parse("empty.yaml", []byte("cases: []\n")); err == nil || !strings.Contains(err.Error(), "no cases") {
		t.Errorf("empty suite: %v", err)
	}
}

func TestJUnitReportsEachCaseAndItsFailure(t *testing.T) {
	res, _ := run(t, `cases:
  - name: passes
    principal: {user: sam@example.com, groups: [sre]}
    role: prod
    duration: 10m
    expect: {outcome: auto_approved}
  - name: fails
    principal: {user: nobody@example.com}
    role: prod
    expect: {outcome: auto_approved}
`)
	var b bytes.Buffer
	if err := WriteJUnit(&b, "tests.yaml", res); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Tests != 2 || got.Failures != 1 || len(got.Suites) != 1 || len(got.Suites[0].Cases) != 2 {
		t.Fatalf("junit = %+v", got)
	}
	c := got.Suites[0].Cases[1]
	if c.Name != "fails" || c.Classname != "policy.prod" || c.File != "tests.yaml:7" || c.Failure == nil ||
		!strings.Contains(c.Failure.Message, "outcome is refused, want auto_approved") || !strings.Contains(c.Failure.Text, "not eligible") {
		t.Fatalf("failing case = %+v", c)
	}
	if got.Suites[0].Cases[0].Failure != nil {
		t.Fatalf("passing case has a failure")
	}
}
