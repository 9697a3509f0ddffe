package grants_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/jit-access/jit"

// transitions are the lifecycle functions that change a request; only the
// grants service calls them.
var transitions = map[string]bool{
	"Approve": true, "Deny": true, "Cancel": true, "Revoke": true, "Extend": true, "Vended": true,
	"Sweep": true, "New": true, "Review": true, "RequestExtension": true, "ApproveExtension": true,
	"DenyExtension": true,
}

// mayChangeState are the packages whose non-test code may write request
// state: the service, the state machine and the stores — and
// pkg/report/reporttest, a fixture imported only by tests, which writes a
// seeded month of history straight into a store as it was recorded.
func mayChangeState(pkg string) bool {
	return pkg == module+"/pkg/grants" || pkg == module+"/pkg/lifecycle" || pkg == module+"/pkg/store" ||
		strings.HasPrefix(pkg, module+"/pkg/store/") || pkg == module+"/pkg/report/reporttest" ||
		// internal/history writes a made-up past into an empty store for
		// the growth benchmarks (internal/seed, internal/bench): no door,
		// no live store.
		pkg == module+"/internal/history"
}

// listed is one package of `go list -export -deps`.
type listed struct {
	path, export, dir string
	files             []string
}

// goList lists the module's packages and their dependencies with the
// export data the type checker reads.
func goList(t *testing.T) map[string]listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", "./...")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]listed{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			continue
		}
		pkgs[f[0]] = listed{path: f[0], export: f[1], dir: f[2], files: strings.Split(f[3], ",")}
	}
	return pkgs
}

// stateChanges type-checks one package's files and lists every use of a
// lifecycle transition and every call of the store's Update or Create (a
// method of that name declared in pkg/store or a store implementation).
func stateChanges(pkgs map[string]listed, path string, files map[string][]byte) ([]string, error) {
	fset := token.NewFileSet()
	var parsed []*ast.File
	for name, src := range files {
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(p string) (io.ReadCloser, error) { return os.Open(pkgs[p].export) })
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	if _, err := (&types.Config{Importer: imp}).Check(path, fset, parsed, info); err != nil {
		return nil, err
	}
	var found []string
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			obj := info.Uses[sel.Sel]
			if obj == nil || obj.Pkg() == nil {
				return true
			}
			from := obj.Pkg().Path()
			switch {
			case from == module+"/pkg/lifecycle" && transitions[obj.Name()] && info.Selections[sel] == nil:
				found = append(found, fset.Position(sel.Pos()).String()+": lifecycle."+obj.Name())
			case (from == module+"/pkg/store" || strings.HasPrefix(from, module+"/pkg/store/")) &&
				(obj.Name() == "Update" || obj.Name() == "Create") && info.Selections[sel] != nil:
				found = append(found, fset.Position(sel.Pos()).String()+": the store's "+obj.Name())
			case from == module+"/pkg/store/sqlstore" && (obj.Name() == "CreateWrite" || obj.Name() == "UpdateWrite"):
				found = append(found, fset.Position(sel.Pos()).String()+": sqlstore."+obj.Name())
			}
			return true
		})
	}
	return found, nil
}

// moduleRoot is the directory of go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// TestOnlyGrantsChangesRequestState: no package but the grants service (and
// the lifecycle and the stores themselves) calls the store's Update or
// Create or a lifecycle transition, so no door can change state around the
// service's policy checks, audit stamps and notifications.
func TestOnlyGrantsChangesRequestState(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list -export; skipped with -short")
	}
	pkgs := goList(t)
	checked := 0
	for path, p := range pkgs {
		if !strings.HasPrefix(path, module) || mayChangeState(path) || p.files[0] == "" {
			continue
		}
		files := map[string][]byte{}
		for _, name := range p.files {
			src, err := os.ReadFile(filepath.Join(p.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.Join(strings.TrimPrefix(path, module+"/"), name)] = src
		}
		found, err := stateChanges(pkgs, path, files)
		if err != nil {
			t.Fatalf("type-check %s: %v", path, err)
		}
		checked++
		for _, f := range found {
			t.Errorf("%s changes request state outside pkg/grants; call the grants service instead", f)
		}
	}
	if checked < 50 {
		t.Fatalf("checked %d packages; the check would prove nothing", checked)
	}
}

// TestStateChangeCheckCatchesEachWayIn proves the check bites: each way a
// door could change state itself is found, under any import name, and
// reads or other packages' Update and Create are not.
func TestStateChangeCheckCatchesEachWayIn(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list -export; skipped with -short")
	}
	const src = `package door

import (
	"context"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/grants"
	lc "github.com/jit-access/jit/pkg/lifecycle"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/sqlite"
	"github.com/jit-access/jit/pkg/store/sqlstore"
)

func door(ctx context.Context, st store.Store, db *sqlite.Store, svc *grants.Service, r *api.Request, now time.Time) {
	st.Update(ctx, "id", func(r *api.Request) ([]audit.Event, error) { return lc.Approve(r, api.User{}, "", now) })
	_ = db.Create(ctx, r, nil)
	_ = lc.ApproveExtension
	_ = lc.StateAt(r, now)
	_, _ = svc.Create(ctx, grants.Actor{}, api.CreateRequest{})
	_ = db.Batch(ctx, []sqlstore.Write{sqlstore.UpdateWrite("id", nil)})
}
`
	found, err := stateChanges(goList(t), "door", map[string][]byte{"door.go": []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(found, "\n")
	for _, want := range []string{"door.go:17:2: the store's Update", "door.go:17:76: lifecycle.Approve", "door.go:18:6: the store's Create", "door.go:19:6: lifecycle.ApproveExtension",
		"door.go:22:37: sqlstore.UpdateWrite"} {
		if !strings.Contains(got, want) {
			t.Errorf("the check missed %s; found:\n%s", want, got)
		}
	}
	if len(found) != 5 {
		t.Errorf("found %d, want 5 (reads and the service's own Create are not state changes):\n%s", len(found), got)
	}
}
