package serverapp_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/fakeiam"
	"github.com/jit-access/jit/pkg/audit"
	jitconfig "github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

// revokerConfig: a server in account 111111111111 (per the FAKE STS's
// GetCallerIdentity) with a revoker role in 222222222222, and one role per
// account given.
func revokerConfig(f *fakeiam.Server, db string, accounts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `oidc: {issuer: "https://idp.example.com", client_id: jit}
store: {dsn: %q}
aws:
  access_key_id: AKIA111111111111
  secret_access_key: secret-111111111111
  revoke_with_inline_policy: true
  iam_endpoint: %s
  revoker_sts_endpoint: %s
  revokers:
    "222222222222": {role_arn: "arn:aws:iam::222222222222:role/jit-revoker"}
roles:
`, "sqlite://"+db, f.URL, f.URL)
	for _, a := range accounts {
		fmt.Fprintf(&b, roleYAML, "in-"+a, "x")
		s := b.String()
		b.Reset()
		b.WriteString(strings.Replace(s, "123456789012:role/x", a+":role/x", 1))
	}
	return b.String()
}

// Before: a role in an account with no revoker was accepted, and its
// revocations were written with the server's credentials into the server's
// own account. Now the server refuses to start, naming the role and the
// setting to add; the server's account comes from sts:GetCallerIdentity.
func TestStartRefusesInlineRevocationForARoleInAnAccountWithoutRevoker(t *testing.T) {
	f := fakeiam.New(t)
	f.Keys("111111111111")
	db := filepath.Join(t.TempDir(), "jit.db")
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	ok, err := jitconfig.Parse("jit.yaml", []byte(revokerConfig(f, db, "111111111111", "222222222222")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serverapp.New(t.Context(), ok, st, slog.New(slog.DiscardHandler), time.Now); err != nil {
		t.Fatalf("own account and an account with a revoker: %v", err)
	}

	bad, err := jitconfig.Parse("jit.yaml", []byte(revokerConfig(f, db, "111111111111", "333333333333")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = serverapp.New(t.Context(), bad, st, slog.New(slog.DiscardHandler), time.Now)
	if err == nil || !strings.Contains(err.Error(), "role in-333333333333") || !strings.Contains(err.Error(), "server's own account 111111111111") ||
		!strings.Contains(err.Error(), `aws.revokers."333333333333".role_arn`) {
		t.Fatalf("err = %v, want the uncovered role refused", err)
	}
}

// A reload that adds a role the revoker cannot reach is refused and
// audited; the running policy stays.
func TestReloadRefusesARoleInAnAccountWithoutRevoker(t *testing.T) {
	f := fakeiam.New(t)
	f.Keys("111111111111")
	dir := t.TempDir()
	db, path := filepath.Join(dir, "jit.db"), filepath.Join(dir, "jit.yaml")
	st, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := jitconfig.Parse(path, []byte(revokerConfig(f, db, "222222222222")))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serverapp.New(t.Context(), cfg, st, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(revokerConfig(f, db, "222222222222", "333333333333")), 0o600); err != nil {
		t.Fatal(err)
	}
	serverapp.Reload(context.Background(), srv, path, st, slog.New(slog.DiscardHandler), time.Now)
	evs, err := st.Audit(t.Context(), store.AuditFilter{Type: audit.TypePolicyRejected})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Reason, "role in-333333333333") {
		t.Fatalf("policy.rejected events %+v, %v", evs, err)
	}
	if n := len(srv.Policy().Roles); n != 1 {
		t.Fatalf("%d roles after the refused reload, want the running 1", n)
	}
}
