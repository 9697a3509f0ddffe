package serverapp_test

import (
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/golist"
)

// cliOnly are the packages of the CLI side: the keyring and its backends,
// the login session and credential cache, the command plumbing. The server
// holds no person's login, so none of them belongs in its binary's graph.
var cliOnly = []string{
	"github.com/99designs/keyring",
	"github.com/godbus/dbus",
	"github.com/jit-access/jit/pkg/session",
	"github.com/jit-access/jit/pkg/credcache",
	"github.com/jit-access/jit/pkg/credpath",
	"github.com/jit-access/jit/pkg/cmdutil",
	"github.com/jit-access/jit/pkg/apiclient",
	"github.com/jit-access/jit/pkg/oidcclient",
	"github.com/jit-access/jit/pkg/tui",
	"github.com/jit-access/jit/cmd",
	"github.com/spf13/cobra",
}

// TestServerLinksNoKeyringNorCLISession fails when the server's package
// graph gains the keyring, the CLI session or the command plumbing again
// (it once did, through cmdutil, for one error helper).
func TestServerLinksNoKeyringNorCLISession(t *testing.T) {
	if bad := golist.Matching(golist.Deps(t, "github.com/jit-access/jit/pkg/serverapp"), cliOnly...); len(bad) > 0 {
		t.Errorf("pkg/serverapp links CLI-only packages: %s", strings.Join(bad, ", "))
	}
}

// TestCLIOnlyCheckCatchesTheCLI proves the check bites: cmd/login links the
// keyring, the session and cmdutil, and each must be named.
func TestCLIOnlyCheckCatchesTheCLI(t *testing.T) {
	bad := strings.Join(golist.Matching(golist.Deps(t, "github.com/jit-access/jit/cmd/login"), cliOnly...), " ")
	for _, want := range []string{"github.com/99designs/keyring", "github.com/jit-access/jit/pkg/session", "github.com/jit-access/jit/pkg/cmdutil"} {
		if !strings.Contains(bad, want) {
			t.Errorf("the CLI-only check did not flag %s in cmd/login's graph", want)
		}
	}
}
