package serverapp_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	jitconfig "github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/grants"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// The server config's managers: reaches the grants service: a static map
// and the directory (real slapd) each name alice's manager on her request.
func TestManagersFromTheServerConfigNameTheRequestersManager(t *testing.T) {
	dir := testenv.LDAP(t, []string{"alice", "bob", "carol"}, nil)
	dir.Modify(t, "dn: "+testenv.LDAPPersonDN("alice")+"\nchangetype: modify\nadd: manager\nmanager: "+testenv.LDAPPersonDN("carol")+"\n")
	tmp := t.TempDir()
	pw := filepath.Join(tmp, "bind.pw")
	if err := os.WriteFile(pw, []byte(dir.BindPassword()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := api.User{Issuer: "https://idp.example.com", Subject: "alice", Email: "alice@example.com", Username: "alice@example.com", Groups: []string{"developers"}}
	for source, want := range map[string]string{
		"{source: static, static: {alice@example.com: bob@example.com}}":                                      "bob@example.com",
		`{source: ldap, ldap: {base: "ou=people,dc=example,dc=org", filter: "(mail={user})"}, cache_ttl: 0s}`: "carol@example.com",
	} {
		db := filepath.Join(t.TempDir(), "jit.db")
		st, err := sqlite.Open(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jitconfig.Parse("jit.yaml", []byte(fmt.Sprintf(`oidc: {issuer: "https://idp.example.com", client_id: jit}
store: {dsn: %q}
ldap: {url: %q, bind_dn: %q, bind_password_file: %q}
managers: %s
roles:
  - name: billing
    arn: arn:aws:iam::123456789012:role/billing
    eligible: {groups: [developers]}
    approvers: {manager_of_requester: true}
`, "sqlite://"+db, dir.URL(), testenv.LDAPBindDN, pw, source)))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := serverapp.New(t.Context(), cfg, st, slog.New(slog.DiscardHandler), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		req, err := srv.Grants().Create(t.Context(), grants.Actor{User: alice, Via: grants.ViaAPI}, api.CreateRequest{Role: "billing", Reason: "x"})
		if err != nil || req.Manager != want {
			t.Errorf("managers: %s: request %+v, %v; want manager %s", source, req, err, want)
		}
		st.Close()
	}
}
