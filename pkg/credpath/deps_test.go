package credpath

import (
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/golist"
)

// heavy are packages whose init (or size) the credential path must never pay
// for: the stores, the IdP sandbox, the server's metrics, AWS service clients
// and their endpoint tables, the TUI, the browser driver and the CLI's command
// tree. A prefix ending in "/" matches the package and everything below it.
var heavy = []string{
	"modernc.org/sqlite",
	"modernc.org/libc",
	"github.com/jackc/pgx/",
	"github.com/zitadel/",
	"github.com/jit-access/jit/pkg/devidp",
	"github.com/jit-access/jit/internal/testenv",
	"github.com/jit-access/jit/pkg/server",
	"github.com/jit-access/jit/pkg/store",
	"github.com/jit-access/jit/pkg/tui",
	"github.com/jit-access/jit/pkg/vend",
	"github.com/jit-access/jit/pkg/cmdutil",
	"github.com/aws/aws-sdk-go-v2/service/",
	"github.com/aws/aws-sdk-go-v2/internal/endpoints",
	"github.com/charmbracelet/",
	"github.com/chromedp/",
	"github.com/prometheus/",
	"github.com/spf13/cobra",
	// The keyring library connects to the D-Bus session bus in its init
	// (Secret Service, KWallet): the slim path reads through pkg/keyread.
	"github.com/99designs/keyring",
	"github.com/jit-access/jit/pkg/credcache",
	// The miss path (login refresh, approval client, HTTP) runs in the full
	// jit, exec'd: a cache hit must not pay for linking it.
	"net/http",
	"crypto/tls",
	"golang.org/x/oauth2",
	"github.com/coreos/go-oidc",
	"github.com/jit-access/jit/pkg/session",
	"github.com/jit-access/jit/pkg/apiclient",
	"github.com/jit-access/jit/pkg/oidcclient",
}

// heavyIn lists the packages of deps that match a heavy prefix.
func heavyIn(deps []string) []string {
	var bad []string
	for _, d := range deps {
		for _, h := range heavy {
			if d == strings.TrimSuffix(h, "/") || strings.HasPrefix(d, h) || (!strings.HasSuffix(h, "/") && strings.HasPrefix(d, h+"/")) {
				bad = append(bad, d)
				break
			}
		}
	}
	return bad
}

// TestCredentialPathStaysSlim fails when a heavy package enters the import
// graph of what `jit configure aws` writes as credential_process: every
// package there runs its init on each call an AWS SDK makes.
func TestCredentialPathStaysSlim(t *testing.T) {
	for _, pkg := range []string{"github.com/jit-access/jit/cmd/jit-credential-process", "github.com/jit-access/jit/pkg/credpath"} {
		deps := golist.Deps(t, pkg)
		if bad := heavyIn(deps); len(bad) > 0 {
			t.Errorf("%s links heavy packages it must not: %s", pkg, strings.Join(bad, ", "))
		}
	}
}

// TestHeavyPackageCheckCatchesTheFatBinary proves the check bites: jit itself
// links the server, SQLite, pgx and the IdP sandbox, and each must be named.
func TestHeavyPackageCheckCatchesTheFatBinary(t *testing.T) {
	bad := strings.Join(heavyIn(golist.Deps(t, "github.com/jit-access/jit")), " ")
	for _, want := range []string{"github.com/99designs/keyring", "modernc.org/sqlite", "github.com/jackc/pgx/v5", "github.com/zitadel/oidc/v3/pkg/op", "github.com/jit-access/jit/pkg/devidp", "github.com/aws/aws-sdk-go-v2/service/sts"} {
		if !strings.Contains(bad, want) {
			t.Errorf("the heavy-package check did not flag %s in jit's own graph", want)
		}
	}
}
