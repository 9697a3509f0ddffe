// Package golist asks the go tool about the module's import graph, for the
// tests that keep its directions honest (the slim credential path, the
// server without the CLI, commands that do not import commands).
package golist

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Deps is `go list -deps pkg`: pkg and everything it links, one import path
// each. It fails the test when the list is too short to prove anything.
func Deps(t testing.TB, pkg string) []string {
	t.Helper()
	deps := strings.Fields(run(t, "list", "-deps", pkg))
	if len(deps) < 10 {
		t.Fatalf("go list -deps %s gave %d packages; a check on it would prove nothing", pkg, len(deps))
	}
	return deps
}

// Imports maps each package matched by pattern (e.g. "./cmd/...") to the
// packages it imports directly, test files excluded.
func Imports(t testing.TB, pattern string) map[string][]string {
	t.Helper()
	out := run(t, "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", pattern)
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

// Matching lists the packages of deps equal to one of prefixes or below one.
func Matching(deps []string, prefixes ...string) []string {
	var hit []string
	for _, d := range deps {
		for _, p := range prefixes {
			p = strings.TrimSuffix(p, "/")
			if d == p || strings.HasPrefix(d, p+"/") {
				hit = append(hit, d)
				break
			}
		}
	}
	return hit
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		var stderr []byte
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
