package serverapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// The SIGHUP path, for real, against a real slapd: a grant of an
// ldap_group role lives; the config is rewritten to point the role at
// another group and the server reloads. The reload is not refused but
// warns, in the log and in policy.loaded, naming the grant; the revoke
// that follows removes the member from the group the grant started in
// (ldapsearch), audits revoke.enforced there, and never touches the new
// group.
func TestSIGHUPThatMovesALiveRoleToAnotherGroupStillEndsTheGrantInTheOldGroup(t *testing.T) {
	idp := testenv.OIDC(t)
	dirSrv := testenv.LDAP(t, []string{"alice"}, []string{"ops", "ops-new"})
	toks := testenv.IDTokens(t, idp, "alice", "bob")
	tmp := t.TempDir()
	db := filepath.Join(tmp, "jit.db")
	pw := filepath.Join(tmp, "bind.pw")
	if err := os.WriteFile(pw, []byte(dirSrv.BindPassword()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(tmp, "jit.yaml")
	write := func(group string) {
		cfg := fmt.Sprintf(`oidc: {issuer: %q, client_id: %q}
store: {dsn: %q}
ldap: {url: %q, bind_dn: %q, bind_password_file: %q}
roles:
  - name: ops
    kind: ldap_group
    ldap:
      group: %s
      member_search: {base: "ou=people,dc=example,dc=org", filter: "(mail={user})"}
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
`, idp.Issuer(), idp.ClientID(), "sqlite://"+db, dirSrv.URL(), testenv.LDAPBindDN, pw, testenv.LDAPGroupDN(group))
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ops")
	var logs lockedBuffer
	a := startAppWith(t, path, slog.New(slog.NewJSONHandler(&logs, nil)))
	defer a.stop(t)
	client := func(tok string) *apiclient.Client {
		c, err := apiclient.New(a.url, nil, func(context.Context) (string, error) { return tok, nil })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := client(toks["alice"]), client(toks["bob"])
	ctx := t.Context()
	req, err := alice.Create(ctx, api.CreateRequest{Role: "ops", Reason: "on call"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Approve(ctx, req.ID, req.Version, "ok"); err != nil {
		t.Fatal(err)
	}
	aliceDN := testenv.LDAPPersonDN("alice")
	if m := dirSrv.Attr(t, testenv.LDAPGroupDN("ops"), "member"); !slices.Contains(m, aliceDN) {
		t.Fatalf("ldapsearch during the grant: %v, want alice", m)
	}

	write("ops-new")
	a.reload <- syscall.SIGHUP
	testenv.Eventually(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "policy reloaded") }, "the reload")
	if !strings.Contains(logs.String(), "keep their access where it started") || !strings.Contains(logs.String(), req.ID) {
		t.Errorf("the reload does not warn about the live grant it moves:\n%s", logs.String())
	}
	if _, err := bob.Revoke(ctx, req.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if m := dirSrv.Attr(t, testenv.LDAPGroupDN("ops"), "member"); slices.Contains(m, aliceDN) {
		t.Fatalf("ldapsearch after the revoke: alice is still in the group her grant started in: %v", m)
	}
	if m := dirSrv.Attr(t, testenv.LDAPGroupDN("ops-new"), "member"); slices.Contains(m, aliceDN) {
		t.Fatalf("the revoke added alice to the new group: %v", m)
	}
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Audit(ctx, store.AuditFilter{RequestID: req.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var enforced *api.AuditEvent
	for i, e := range evs {
		if e.Type == audit.TypeRevokeFailed {
			t.Fatalf("revoke failed: %+v", e)
		}
		if e.Type == audit.TypeRevokeEnforced {
			enforced = &evs[i]
		}
	}
	if enforced == nil || enforced.Detail["group"] != testenv.LDAPGroupDN("ops") {
		t.Fatalf("want revoke.enforced in the old group: %+v", evs)
	}
	loads, err := st.Audit(ctx, store.AuditFilter{Type: audit.TypePolicyLoaded, Limit: 100})
	if err != nil || len(loads) != 2 || !strings.Contains(loads[1].Detail["moved_grants"], req.ID) {
		t.Fatalf("policy.loaded records %+v (%v): the reload's should name the moved grant", loads, err)
	}
}
