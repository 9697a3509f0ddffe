package config

import (
	"strings"
	"testing"
	"time"
)

const managerRole = `  - name: billing
    arn: arn:aws:iam::123456789012:role/billing
    eligible: {groups: [dev]}
    approvers: {manager_of_requester: true}
`

func TestManagersSourceIsCheckedAndRequiredByManagerRoles(t *testing.T) {
	for _, tc := range []struct{ name, managers, want string }{
		{"a manager role without a source", "", "role billing lets the requester's manager approve (manager_of_requester) but the server has no managers: source"},
		{"an unknown source", "managers: {source: scim}\n", `jit.yaml:1:20: managers.source: "scim" is not a manager source; use claim, ldap or static`},
		{"a claim source without the claim", "managers: {source: claim}\n", "managers.claim: source claim needs claim:"},
		{"an ldap source without ldap:", "managers: {source: ldap, ldap: {base: \"ou=people,dc=x\", filter: \"(mail={user})\"}}\n", "source ldap reads the directory of ldap:"},
		{"an ldap filter without {user}", "managers: {source: ldap, ldap: {base: \"ou=people,dc=x\", filter: \"(mail=x)\"}}\n", "must contain {user}"},
		{"an empty static map", "managers: {source: static}\n", "source static needs the map"},
		{"settings without a source", "managers: {claim: manager}\n", "managers settings without managers.source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("jit.yaml", []byte(tc.managers+minimal+managerRole))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	c, err := Parse("jit.yaml", []byte("managers: {source: static, static: {dana@example.com: max@example.com}}\n"+minimal+managerRole))
	if err != nil {
		t.Fatal(err)
	}
	if c.Managers.CacheTTL.D() != 5*time.Minute || c.Managers.LDAP.ManagerAttribute != "manager" || c.Managers.LDAP.NameAttribute != "mail" {
		t.Fatalf("defaults: %+v", c.Managers)
	}
}
