package main

import (
	"errors"
	"fmt"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// codeMapFile is the generated map from commands and packages to code.
const codeMapFile = "docs/code-map.md"

// modulePath is jit's module path; commands and packages outside it (cobra's
// completion and help) are left off the map.
const modulePath = "github.com/jit-access/jit"

// codeMap renders docs/code-map.md: every command with the package and file
// that run it, then every package of the module with the first sentence of
// its package comment. src is the module root to read the package comments
// from.
func codeMap(root *cobra.Command, src string) ([]byte, error) {
	var b strings.Builder
	b.WriteString(generatedNote)
	b.WriteString("# Code map\n\n")
	b.WriteString("Where to start reading. The first table follows the command tree: each command, the package\n")
	b.WriteString("that builds it and the file holding the function it runs. The second lists every package\n")
	b.WriteString("with its package comment, which states the package's one job. Both are generated from the\n")
	b.WriteString("code (`go run ./internal/gendocs`), so a moved command or a new package shows up here, and\n")
	b.WriteString("a test fails while this page is stale. The architecture is described in\n")
	b.WriteString("[design-notes.md](design-notes.md).\n\n")
	b.WriteString("## Commands\n\n| command | package | file |\n|---|---|---|\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if pkg, file := commandSource(c, src); pkg != "" {
			fmt.Fprintf(&b, "| `%s` | [%s](../%s) | %s |\n", c.CommandPath(), pkg, pkg, fileLink(pkg, file))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	pkgs, err := packageDocs(src)
	if err != nil {
		return nil, err
	}
	b.WriteString("\n## Packages\n")
	section := ""
	for _, p := range pkgs {
		if top, _, _ := strings.Cut(p.dir, "/"); top != section {
			section = top
			heading := top + "/"
			if top == "." {
				heading = "the module root"
			}
			fmt.Fprintf(&b, "\n### %s\n\n| package | job |\n|---|---|\n", heading)
		}
		doc := strings.ReplaceAll(strings.Join(strings.Fields(p.doc), " "), "|", `\|`)
		if doc == "" {
			doc = "(no package comment)"
		}
		link := "../" + p.dir
		if p.dir == "." {
			link = "../main.go"
		}
		fmt.Fprintf(&b, "| [%s](%s) | %s |\n", p.dir, link, doc)
	}
	return []byte(b.String()), nil
}

// commandSource names the package and file of the function c runs, relative
// to the module root src. The package is read from the file's path, not from
// the function's name: a constructor inlined into cmd.NewRootCmd gives its
// closures the caller's name. A command that only groups others has no
// function of its own; it is attributed to the package of its first child,
// without a file.
func commandSource(c *cobra.Command, src string) (pkg, file string) {
	var fn any
	switch {
	case c.RunE != nil:
		fn = c.RunE
	case c.Run != nil:
		fn = c.Run
	default:
		for _, sub := range c.Commands() {
			if p, _ := commandSource(sub, src); p != "" {
				return p, ""
			}
		}
		return "", ""
	}
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return "", ""
	}
	name, _ := f.FileLine(f.Entry())
	name = filepath.ToSlash(name)
	rel, ok := strings.CutPrefix(name, filepath.ToSlash(src)+"/")
	if !ok {
		// Built with -trimpath: the file is named by its import path.
		rel, ok = strings.CutPrefix(name, modulePath+"/")
	}
	if !ok {
		return "", "" // cobra's own commands (completion, help)
	}
	return path.Dir(rel), path.Base(rel)
}

func fileLink(pkg, file string) string {
	if file == "" {
		return "—"
	}
	return fmt.Sprintf("[%s](../%s/%s)", file, pkg, file)
}

// pkgDoc is one package of the module and its synopsis.
type pkgDoc struct {
	dir string // relative to the module root, slash-separated; "." for the root
	doc string
}

// packageDocs reads the package comment of every Go package under src,
// sorted by directory with the root first.
func packageDocs(src string) ([]pkgDoc, error) {
	var out []pkgDoc
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != src && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		bp, err := build.ImportDir(p, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read package %s: %w", p, err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		synopsis := bp.Doc
		if synopsis == "" && len(bp.GoFiles) == 0 {
			synopsis = testOnlyDoc(p, bp.TestGoFiles)
		}
		out = append(out, pkgDoc{dir: filepath.ToSlash(rel), doc: synopsis})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b pkgDoc) int {
		if a.dir == "." || b.dir == "." {
			return strings.Compare(strings.TrimPrefix(a.dir, "."), strings.TrimPrefix(b.dir, "."))
		}
		return strings.Compare(a.dir, b.dir)
	})
	return out, nil
}

// testOnlyDoc is the synopsis of a package that has only test files (such as
// internal/e2e), which go/build does not read the comment of.
func testOnlyDoc(dir string, files []string) string {
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err == nil && f.Doc != nil {
			return new(doc.Package).Synopsis(f.Doc.Text())
		}
	}
	return ""
}

// moduleRoot finds the directory holding go.mod, from the working directory
// up: the repository root under `go run ./internal/gendocs`, two levels up
// under `go test`.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; run gendocs inside the jit repository")
		}
		dir = parent
	}
}
