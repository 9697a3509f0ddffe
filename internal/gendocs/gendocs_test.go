package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the committed docs/ and completions/ files")

// repoRoot is where the committed generated files live.
const repoRoot = "../.."

// TestGeneratedFilesAreCurrent renders everything into a temporary
// directory and compares it with the committed files, so a change to a
// command's flags or help that was not followed by `make docs` fails CI.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	if *update {
		if err := Generate(repoRoot); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote docs/cli, docs/man, docs/exit-codes.md, docs/code-map.md and completions/")
	}
	dir := t.TempDir()
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	want := listGenerated(t, dir)
	have := listGenerated(t, repoRoot)
	var problems []string
	for _, rel := range want {
		gen, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join(repoRoot, rel))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("missing: %s", rel))
		case !bytes.Equal(gen, committed):
			problems = append(problems, fmt.Sprintf("stale:   %s\n%s", rel, firstDifference(committed, gen)))
		}
	}
	for _, rel := range have {
		if !slices.Contains(want, rel) {
			problems = append(problems, fmt.Sprintf("extra:   %s (no command generates it any more)", rel))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%d generated file(s) out of date; run `make docs` (or go test ./internal/gendocs -update) and commit:\n%s",
			len(problems), strings.Join(problems, "\n"))
	}
}

// listGenerated lists the generated files under root, relative to it.
func listGenerated(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{cliDir, manDir} {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	for _, name := range completionFiles {
		if _, err := os.Stat(filepath.Join(root, completionsDir, name)); err == nil {
			out = append(out, completionsDir+"/"+name)
		}
	}
	for _, f := range []string{exitCodesFile, codeMapFile} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// firstDifference shows the first line where committed and generated part.
func firstDifference(committed, generated []byte) string {
	a := strings.Split(string(committed), "\n")
	b := strings.Split(string(generated), "\n")
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y || i >= len(a) || i >= len(b) {
			return fmt.Sprintf("         line %d:\n           committed: %q\n           generated: %q", i+1, x, y)
		}
	}
	return "         (differs)"
}

func TestExitCodesPageListsEveryCode(t *testing.T) {
	page := string(exitCodes())
	for _, code := range []string{"| 0 |", "| 4 |", "| 8 |", "| 130 |"} {
		if !strings.Contains(page, code) {
			t.Errorf("exit-codes page lacks %s:\n%s", code, page)
		}
	}
}

// TestBashCompletionOffersSubcommands sources the generated bash script and
// completes `jit re` the way bash does on TAB, with the real binary on PATH
// answering cobra's __complete calls.
func TestBashCompletionOffersSubcommands(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	if testing.Short() {
		t.Skip("builds the jit binary")
	}
	dir := t.TempDir()
	if err := Generate(dir); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Dir(testenv.JitBinary(t))
	// The script needs bash-completion's _get_comp_words_by_ref; use the
	// package's when it is installed, else a minimal stand-in that splits
	// words the way COMP_WORDS already holds them.
	script := `
[[ -r /usr/share/bash-completion/bash_completion ]] && source /usr/share/bash-completion/bash_completion
if ! declare -F _get_comp_words_by_ref >/dev/null; then
	_get_comp_words_by_ref() {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
fi
source "$1"
COMP_WORDS=(jit re)
COMP_CWORD=1
COMP_LINE="jit re"
COMP_POINT=${#COMP_LINE}
COMP_TYPE=9
__start_jit jit re jit
printf '%s\n' "${COMPREPLY[@]}"
`
	run := exec.Command(bash, "--noprofile", "--norc", "-c", script, "bash", filepath.Join(dir, completionsDir, completionFiles["bash"]))
	run.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+dir, "JIT_CONFIG="+filepath.Join(dir, "config.yaml"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:", "COLUMNS=200")
	var stderr bytes.Buffer
	run.Stderr = &stderr
	out, err := run.Output()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, stderr.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			got = append(got, f[0])
		}
	}
	slices.Sort(got)
	if want := []string{"report", "request", "requests", "review", "revoke"}; !slices.Equal(got, want) {
		t.Errorf("completing `jit re` offered %q, want %q\nraw output:\n%s\nstderr:\n%s", got, want, out, stderr.String())
	}
}

// TestCodeMapNamesTheCommandsOwnPackage checks that a command is mapped to
// the package and file it is written in, even when the compiler inlines its
// constructor into cmd.NewRootCmd (which renames the closures after cmd).
func TestCodeMapNamesTheCommandsOwnPackage(t *testing.T) {
	src, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	m, err := codeMap(newRoot(), src)
	if err != nil {
		t.Fatal(err)
	}
	page := string(m)
	for _, row := range []string{
		"| `jit doctor` | [cmd/doctor](../cmd/doctor) | [doctor.go](../cmd/doctor/doctor.go) |",
		"| `jit logout` | [cmd/login](../cmd/login) | [login.go](../cmd/login/login.go) |",
		"| `jit audit` | [cmd/audit](../cmd/audit) | — |",
		"| [pkg/credcache](../pkg/credcache) | Package credcache is",
	} {
		if !strings.Contains(page, row) {
			t.Errorf("code map lacks %q:\n%s", row, page)
		}
	}
	if strings.Contains(page, "`jit completion") {
		t.Errorf("code map lists cobra's own completion command:\n%s", page)
	}
}
