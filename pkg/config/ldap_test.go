package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const ldapRole = `  - name: ops
    kind: ldap_group
    ldap: {group: "cn=ops,ou=groups,dc=example,dc=org", member_dn: "uid={user},ou=people,dc=example,dc=org"}
    eligible: {groups: [dev]}
    approvers: {groups: [approvers]}
`

func loadLDAP(t *testing.T, ldap string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bind.pw"), []byte("SECRET-BIND\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(ldap+minimal+ldapRole), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestLDAPConnectionReadsThePasswordFileAndNeverShowsIt(t *testing.T) {
	c, err := loadLDAP(t, "ldap: {url: \"ldaps://ldap.example.org\", bind_dn: \"cn=jit,ou=services,dc=example,dc=org\", bind_password_file: bind.pw}\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.LDAP.BindPassword.Reveal() != "SECRET-BIND" || c.LDAP.MarkerAttribute != "description" || c.LDAP.Timeout.D() != 10*time.Second {
		t.Fatalf("ldap: %+v", c.LDAP)
	}
	js, _ := json.Marshal(c)
	if out := c.String() + fmt.Sprintf("%v %+v %#v", *c, c.LDAP, c.LDAP) + string(js); strings.Contains(out, "SECRET") {
		t.Fatalf("the bind password leaked:\n%s", out)
	}
}

func TestLDAPConnectionMistakesAreNamedByLine(t *testing.T) {
	for _, tc := range []struct{ name, ldap, want string }{
		{"an ldap_group role without a connection", "", "no ldap: connection; add ldap.url"},
		{"plain ldap to another host", "ldap: {url: \"ldap://ldap.example.org\", bind_dn: \"cn=jit,dc=x\", bind_password_file: bind.pw}\n",
			"jit.yaml:1:13: ldap.url: \"ldap://ldap.example.org\" sends the bind password in clear text"},
		{"not an LDAP URL", "ldap: {url: \"https://ldap.example.org\", bind_dn: \"cn=jit,dc=x\", bind_password_file: bind.pw}\n", "is not an LDAP URL"},
		{"an inline password", "ldap: {url: \"ldaps://h\", bind_dn: \"cn=jit,dc=x\", bind_password: x}\n", "unknown key \"bind_password\""},
		{"no password file", "ldap: {url: \"ldaps://h\", bind_dn: \"cn=jit,dc=x\"}\n", "bind_password_file is required"},
		{"a missing password file", "ldap: {url: \"ldaps://h\", bind_dn: \"cn=jit,dc=x\", bind_password_file: nope.pw}\n", "ldap.bind_password_file: cannot read the secret"},
		{"a bind DN that is no DN", "ldap: {url: \"ldaps://h\", bind_dn: \"jit\", bind_password_file: bind.pw}\n", "is not the bind account's DN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadLDAP(t, tc.ldap)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
