package policy

import (
	"strings"
	"testing"
)

// role is a valid role; tests replace or append lines.
const role = `roles:
  - name: prod
    arn: arn:aws:iam::123456789012:role/prod
    eligible: {groups: [dev]}
    approvers: {groups: [approvers]}
`

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown top-level key", "rolez: []\n", `policy.yaml:1:1: unknown key "rolez" (expected one of: admins, roles)`},
		{"unknown role key", role + "    max_durration: 1h\n", `policy.yaml:6:5: roles[0]: unknown key "max_durration" (expected one of: account, agents, approvals_required,`},
		{"unknown nested key", strings.Replace(role, "{groups: [dev]}", "{group: [dev]}", 1), `roles[0].eligible: unknown key "group" (expected one of: groups, manager_of_requester, users, workloads)`},
		{"bad duration", role + "    max_duration: 2x\n", `policy.yaml:6:19: roles[0].max_duration: "2x" is not a duration (use 15m, 1h, 12h)`},
		{"number as duration", role + "    max_duration: 4\n", `policy.yaml:6:19: roles[0].max_duration: "4" is not a duration`},
		{"bool expected", role + "    reason_required: yes please\n", `policy.yaml:6:22: roles[0].reason_required: "yes please" is not true or false`},
		{"int expected", role + "    approvals_required: two\n", `policy.yaml:6:25: roles[0].approvals_required: "two" is not a whole number`},
		{"list expected", strings.Replace(role, "[approvers]", "approvers", 1), `roles[0].approvers.groups: expected a list`},
		{"syntax error", "roles: [\n", `policy.yaml:1:`},
		{"duplicate key", role + "    name: again\n", `policy.yaml:6:5:`},
		{"no roles", "admins: {users: [a@b]}\n", `policy.yaml:1:1: roles: no roles are defined`},
		{"empty file", "", `policy.yaml: roles: no roles are defined`},
		{"bad name", strings.Replace(role, "name: prod", "name: Prod!", 1), `policy.yaml:2:11: roles[0].name: "Prod!" is not a role name`},
		{"missing name", strings.Replace(role, "name: prod", "description: x", 1), `roles[0].name: name is required`},
		{"duplicate names", role + strings.TrimPrefix(role, "roles:\n"), `policy.yaml:6:11: roles[1].name: role "prod" is defined twice`},
		{"bad arn", strings.Replace(role, "role/prod", "user/prod", 1), `policy.yaml:3:10: roles[0].arn: "arn:aws:iam::123456789012:user/prod" is not an IAM role ARN`},
		{"account mismatch", role + "    account: \"210987654321\"\n", `roles[0].account: account 210987654321 does not match the ARN's account 123456789012`},
		{"unquoted account with leading zero", role + "    account: 012345670123\n", `policy.yaml:6:14: roles[0].account: 012345670123 has a leading zero and would be read as a number; quote it`},
		{"default over max", role + "    default_duration: 2h\n    max_duration: 1h\n", `policy.yaml:6:23: roles[0].default_duration: 2h is over max_duration 1h`},
		{"max over 12h", role + "    max_duration: 13h\n", `roles[0].max_duration: 13h is over 12h`},
		{"session duration out of range", role + "    max_session_duration: 30m\n", `roles[0].max_session_duration: 30m is outside IAM's range`},
		{"bad ticket pattern", role + "    ticket_pattern: '[A-Z'\n", `policy.yaml:6:21: roles[0].ticket_pattern: "[A-Z" is not a regular expression`},
		{"bad session policy", role + "    session_policy: '{nope'\n", `roles[0].session_policy: is not a JSON policy document`},
		{"session policy without statement", role + "    session_policy: '{}'\n", `has no "Statement"`},
		// A Deny-only session policy once got a silent Allow "*"; AWS would
		// grant nothing, so it is refused with the statement to add.
		{"deny-only session policy", role + "    session_policy: '{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"iam:*\",\"Resource\":\"*\"}}'\n",
			`roles[0].session_policy: has no Allow statement, so sessions could do nothing`},
		{"nobody eligible", strings.Replace(role, "eligible: {groups: [dev]}", "eligible: {}", 1), `roles[0].eligible: nobody is eligible`},
		{"no approvers", strings.Replace(role, "approvers: {groups: [approvers]}", "description: x", 1), `policy.yaml:2:5: roles[0].approvers: nobody can approve prod`},
		{"fewer approvers than required", strings.Replace(role, "approvers: {groups: [approvers]}", "approvers: {users: [a@x]}\n    approvals_required: 2", 1), `roles[0].approvers: 1 approver(s) listed but approvals_required is 2`},
		{"zero approvals", role + "    approvals_required: 0\n", `roles[0].approvals_required: 0 is outside 1 to 10`},
		{"auto-approve over max", role + "    auto_approve: {groups: [dev], max_duration: 2h}\n", `roles[0].auto_approve.max_duration: 2h is over the role's max_duration 1h`},
		{"auto-approve nobody", role + "    auto_approve: {max_duration: 10m}\n", `roles[0].auto_approve: lists nobody`},
		{"total under max", role + "    max_total_duration: 30m\n", `roles[0].max_total_duration: 30m is under max_duration 1h`},
		{"negative extensions", role + "    max_extensions: -1\n", `roles[0].max_extensions: -1 is negative`},
		{"bad region", role + "    region: mars\n", `roles[0].region: "mars" is not an AWS region`},
		{"unknown kind", role + "    kind: aws_rol\n", `policy.yaml:6:11: roles[0].kind: "aws_rol" is not a kind of access jit knows; known kinds: aws_role`},
		{"bad slack channel", role + "    slack_channel: prod access\n", `roles[0].slack_channel: "prod access" is not a Slack channel`},
		{"blank user", role + "    auto_approve: {users: [\" \"]}\n", `roles[0].auto_approve.users[0]: " " is not a user`},
		{"two documents", role + "---\n" + role, `holds more than one YAML document`},
		{"idle timeout too short", role + "    idle_timeout: 30s\n", `roles[0].idle_timeout: 30s is outside 1m to 12h`},
		{"idle timeout too long", role + "    idle_timeout: 13h\n", `roles[0].idle_timeout: 13h is outside 1m to 12h`},
		{"bad review", role + "    review: maybe\n", `roles[0].review: "maybe" is not a review setting; use required or none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("policy.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want error %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n %v\nwant it to contain:\n %s", err, tt.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := role + "    max_duration: 13h\n    region: mars\n"
	_, err := Parse("policy.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "max_duration") || !strings.Contains(err.Error(), "region") {
		t.Fatalf("err = %v, want both problems", err)
	}
}

func TestParseWarnings(t *testing.T) {
	src := strings.Replace(role, "approvers: {groups: [approvers]}", "approvers: {users: [a@x]}", 1) + "    max_extensions: 1\n"
	p, err := Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(p.Warnings, "\n")
	for _, want := range []string{
		"policy.yaml:5:17: roles[0].approvers: only 1 approver(s) for approvals_required 1; a requester never approves their own request",
		"roles[0].max_extensions: extensions are allowed but max_total_duration equals max_duration",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
		}
	}
}

func TestAutoApproveEveryoneNeedsNoApprovers(t *testing.T) {
	src := `roles:
  - name: sandbox
    arn: arn:aws-us-gov:iam::123456789012:role/team/sandbox
    eligible: {groups: [dev], users: [a@x]}
    auto_approve: {groups: [dev], users: [A@X]}
`
	if _, err := Parse("policy.yaml", []byte(src)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// Not everyone covered: approvers needed.
	src = strings.Replace(src, ", users: [A@X]", "", 1)
	if _, err := Parse("policy.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "nobody can approve") {
		t.Fatalf("err = %v, want nobody can approve", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(testPolicy))
	f.Add([]byte(role))
	f.Add([]byte("roles: [{name: a, arn: x, max_duration: 1h, approvals_required: 3}]\n"))
	f.Add([]byte("roles:\n  - &a {name: a}\n  - *a\n"))
	f.Add([]byte("admins: !!map {users: [a]}\nroles: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err == nil && (p == nil || len(p.Roles) == 0) {
			t.Fatalf("no error and no roles")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func TestRoleWithoutKindIsAnIAMRoleAndSaysSo(t *testing.T) {
	for _, src := range []string{role, role + "    kind: aws_role\n"} {
		p, err := Parse("policy.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := p.Role("prod")
		if r.Kind != KindAWSRole || r.TargetKind() != KindAWSRole {
			t.Fatalf("kind %q (%q), want %q", r.Kind, r.TargetKind(), KindAWSRole)
		}
	}
}
