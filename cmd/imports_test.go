package cmd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/golist"
)

const cmdRoot = "github.com/jit-access/jit/cmd"

// crossCommandImports lists the imports, in a map of package → imports, by
// which one command package uses another. Allowed: the root (cmd, which
// assembles the tree), cmd/shared/... (the sibling that holds what commands
// share), and a command group's own subcommands (cmd/x → cmd/x/y).
func crossCommandImports(imports map[string][]string) []string {
	var bad []string
	for pkg, imps := range imports {
		if pkg == cmdRoot || !strings.HasPrefix(pkg, cmdRoot+"/") {
			continue
		}
		for _, imp := range imps {
			switch {
			case !strings.HasPrefix(imp, cmdRoot+"/"):
			case imp == cmdRoot+"/shared" || strings.HasPrefix(imp, cmdRoot+"/shared/"):
			case strings.HasPrefix(imp, pkg+"/"):
			default:
				bad = append(bad, fmt.Sprintf("%s imports %s", strings.TrimPrefix(pkg, cmdRoot+"/"), strings.TrimPrefix(imp, cmdRoot+"/")))
			}
		}
	}
	slices.Sort(bad)
	return bad
}

// TestCommandsDoNotImportCommands fails when a command package imports
// another command: what two commands share goes to cmd/shared instead.
func TestCommandsDoNotImportCommands(t *testing.T) {
	imports := golist.Imports(t, "github.com/jit-access/jit/cmd/...")
	if len(imports) < 10 {
		t.Fatalf("go list found %d command packages; the check would prove nothing", len(imports))
	}
	if bad := crossCommandImports(imports); len(bad) > 0 {
		t.Errorf("commands import commands (move the shared piece to cmd/shared):\n  %s", strings.Join(bad, "\n  "))
	}
}

// TestCrossCommandCheckCatchesACommandImportingACommand proves the check
// bites on the shape it replaced, and lets the allowed imports through.
func TestCrossCommandCheckCatchesACommandImportingACommand(t *testing.T) {
	got := crossCommandImports(map[string][]string{
		cmdRoot + "/pick":    {"context", cmdRoot + "/use", cmdRoot + "/shared", "github.com/jit-access/jit/pkg/tui"},
		cmdRoot + "/review":  {cmdRoot + "/requests"},
		cmdRoot:              {cmdRoot + "/pick", cmdRoot + "/use"},
		cmdRoot + "/request": {cmdRoot + "/request/approve"},
	})
	want := []string{"pick imports use", "review imports requests"}
	if !slices.Equal(got, want) {
		t.Fatalf("crossCommandImports = %q, want %q", got, want)
	}
}
