package policy_test

import (
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/policy"
)

const ldapRoleHead = `roles:
  - name: ops
    kind: ldap_group
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`

func TestLDAPGroupRoleParsesItsGroupAndMemberLookup(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(ldapRoleHead+`    ldap:
      group: cn=ops,ou=groups,dc=example,dc=org
      member_search: {base: "ou=people,dc=example,dc=org", filter: "(mail={user})"}
`))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := p.Role("ops")
	if r.TargetKind() != policy.KindLDAPGroup || r.LDAP == nil || r.LDAP.Group != "cn=ops,ou=groups,dc=example,dc=org" ||
		r.LDAP.SearchBase != "ou=people,dc=example,dc=org" || r.LDAP.SearchFilter != "(mail={user})" {
		t.Fatalf("role: %+v %+v", r, r.LDAP)
	}
	if got := r.Target(); !strings.HasPrefix(got, "ldap_group: membership of cn=ops,ou=groups,dc=example,dc=org") {
		t.Fatalf("Target() = %q", got)
	}
}

func TestLDAPGroupRoleMistakesAreNamedByLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"no ldap block", "", []string{"p.yaml:3:11", "needs an ldap: block"}},
		{"no group, no lookup", "    ldap: {}\n", []string{"roles[0].ldap.group: group is required", "member_dn", "member_search"}},
		{"a group that is no DN", "    ldap: {group: \"not a dn\", member_dn: \"uid={user},dc=x\"}\n", []string{"p.yaml:6:", "is not a DN"}},
		{"a template without {user}", "    ldap: {group: \"cn=ops,dc=x\", member_dn: \"uid=alice,dc=x\"}\n", []string{"does not contain {user}"}},
		{"both lookups", "    ldap: {group: \"cn=ops,dc=x\", member_dn: \"uid={user},dc=x\", member_search: {base: \"dc=x\", filter: \"(uid={user})\"}}\n",
			[]string{"member_dn or member_search, not both"}},
		{"a bad filter", "    ldap: {group: \"cn=ops,dc=x\", member_search: {base: \"dc=x\", filter: \"uid={user}(\"}}\n", []string{"is not an LDAP filter"}},
		{"an unknown key", "    ldap: {group: \"cn=ops,dc=x\", member_dn: \"uid={user},dc=x\", members: x}\n", []string{"members"}},
		{"an AWS key", "    arn: arn:aws:iam::123456789012:role/x\n    ldap: {group: \"cn=ops,dc=x\", member_dn: \"uid={user},dc=x\"}\n",
			[]string{"roles[0].arn: arn is an aws_role setting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse("p.yaml", []byte(ldapRoleHead+tc.yaml))
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	_, err := policy.Parse("p.yaml", []byte(`roles:
  - name: aws
    arn: arn:aws:iam::123456789012:role/x
    ldap: {group: "cn=ops,dc=x"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`))
	if err == nil || !strings.Contains(err.Error(), "ldap: is for kind: ldap_group") {
		t.Fatalf("ldap on an aws_role: %v", err)
	}
}
