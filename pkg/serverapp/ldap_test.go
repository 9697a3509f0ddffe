package serverapp_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	jitconfig "github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// A server with ldap_group roles binds and reads every group at start: it
// starts with the groups there, refuses a group it cannot read, and
// refuses a bind password the directory rejects.
func TestStartChecksEveryLDAPGroupRoleAgainstTheDirectory(t *testing.T) {
	dir := testenv.LDAP(t, []string{"alice"}, []string{"ops"})
	tmp := t.TempDir()
	db := filepath.Join(tmp, "jit.db")
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	config := func(password, group string) *jitconfig.Config {
		t.Helper()
		pw := filepath.Join(tmp, "bind-"+fmt.Sprint(len(password))+".pw")
		if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := jitconfig.Parse("jit.yaml", []byte(fmt.Sprintf(`oidc: {issuer: "https://idp.example.com", client_id: jit}
store: {dsn: %q}
ldap: {url: %q, bind_dn: %q, bind_password_file: %q}
roles:
  - name: ops
    kind: ldap_group
    ldap: {group: %q, member_dn: "uid={user},ou=people,dc=example,dc=org"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`, "sqlite://"+db, dir.URL(), testenv.LDAPBindDN, pw, group)))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	log := slog.New(slog.DiscardHandler)
	if _, err := serverapp.New(t.Context(), config(dir.BindPassword(), testenv.LDAPGroupDN("ops")), st, log, time.Now); err != nil {
		t.Fatalf("start with a readable group: %v", err)
	}
	_, err = serverapp.New(t.Context(), config(dir.BindPassword(), testenv.LDAPGroupDN("gone")), st, log, time.Now)
	if err == nil || !strings.Contains(err.Error(), "role ops") || !strings.Contains(err.Error(), "cn=gone") {
		t.Fatalf("start with a missing group: %v, want a refusal naming the role and the group", err)
	}
	_, err = serverapp.New(t.Context(), config("wrong", testenv.LDAPGroupDN("ops")), st, log, time.Now)
	if err == nil || !strings.Contains(err.Error(), "bind as "+testenv.LDAPBindDN) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("start with a refused bind password: %v, want a bind refusal without the password", err)
	}
}
