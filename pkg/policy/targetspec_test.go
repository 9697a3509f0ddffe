package policy_test

import (
	"reflect"
	"testing"

	"github.com/jit-access/jit/pkg/policy"
)

// A grant records its role's TargetSpec and ends where that says (a reload
// may move the role). A setting that says where access is but lives
// outside the TargetSpec would not be recorded, and a grant's end would
// follow the reload: every field of Role must be either the TargetSpec or
// one of the rules below, which say who and how long, never where.
func TestRoleSettingsThatSayWhereAreInTheTargetSpec(t *testing.T) {
	rules := map[string]bool{"Name": true, "Description": true, "TargetSpec": true, "Eligible": true, "DefaultDuration": true,
		"MaxDuration": true, "ReasonRequired": true, "TicketPattern": true, "Approvers": true, "ApprovalsRequired": true,
		"AutoApprove": true, "BreakGlass": true, "PendingTimeout": true, "MaxExtensions": true, "MaxTotalDuration": true,
		"SlackChannel": true, "IdleTimeout": true, "ReviewRequired": true, "Agents": true}
	rt := reflect.TypeFor[policy.Role]()
	for i := range rt.NumField() {
		if f := rt.Field(i); !rules[f.Name] {
			t.Errorf("policy.Role.%s is new: if it says where the role's access is (a target setting), move it into policy.TargetSpec; "+
				"if it is a rule (who, how long), add it to this test's list", f.Name)
		}
	}
}

func TestRecordedTargetRoundTripsAndAMovedRoleIsSeen(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte(`roles:
  - name: ops
    kind: ldap_group
    ldap: {group: "cn=ops,dc=example,dc=org", member_dn: "uid={user},dc=example,dc=org"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
  - name: admin
    arn: arn:aws:iam::123456789012:role/admin
    session_policy: '{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ops", "admin"} {
		role, _ := pol.Role(name)
		rec := role.Recorded()
		got, err := policy.StartedRole(nil, name, rec)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.TargetSpec, role.TargetSpec) || got.Name != name {
			t.Errorf("%s: recorded %s, read back %+v, want %+v", name, rec.Spec, got.TargetSpec, role.TargetSpec)
		}
		if policy.Moved(rec, role) {
			t.Errorf("%s: an unchanged role counts as moved", name)
		}
		if !policy.Moved(rec, nil) {
			t.Errorf("%s: a dropped role does not count as moved", name)
		}
	}
	ops, _ := pol.Role("ops")
	moved := *ops
	moved.LDAP = &policy.LDAPGroup{Group: "cn=other,dc=example,dc=org", MemberDN: ops.LDAP.MemberDN}
	if !policy.Moved(ops.Recorded(), &moved) {
		t.Error("a role moved to another group does not count as moved")
	}
	// The rules come from the policy now; only where comes from the record.
	started, err := policy.StartedRole(&moved, "ops", ops.Recorded())
	if err != nil || started.LDAP.Group != "cn=ops,dc=example,dc=org" || started.Approvers.Groups[0] != "approvers" {
		t.Fatalf("started role %+v (%v), want the recorded group and the current rules", started, err)
	}
	if _, err := policy.StartedRole(nil, "gone", nil); err == nil {
		t.Fatal("a grant with no record and no role should have nowhere to act")
	}
}
