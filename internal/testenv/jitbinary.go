package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The jit binaries are built at most once per test binary and kind:
// building is the slow part of every test that runs jit as a process.
var built struct {
	mu     sync.Mutex
	inMain bool
	dirs   []string
	jit    map[bool]string // by released
}

// Main runs the tests of a package that calls JitBinary and then removes
// the binaries built for it. Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	built.inMain = true
	code := m.Run()
	for _, d := range built.dirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// JitBinary returns the path of a jit binary built from this checkout with
// the slim jit-credential-process beside it, as every package ships them.
// It is a plain `go build`, so it reuses the build cache of `go build ./...`.
// The first call builds both; later calls in the same test binary reuse
// them. The package's TestMain must be testenv.Main, which removes them.
func JitBinary(t testing.TB) string {
	t.Helper()
	return jitBinary(t, false)
}

// JitBinaryAsReleased is JitBinary built the way `make build` and the
// release build it (CGO_ENABLED=0, -trimpath, stripped), for measurements
// of size and start-up. It compiles everything afresh the first time.
func JitBinaryAsReleased(t testing.TB) string {
	t.Helper()
	return jitBinary(t, true)
}

func jitBinary(t testing.TB, released bool) string {
	t.Helper()
	SkipPeerInShortMode(t, "the jit binary (a go build)")
	built.mu.Lock()
	defer built.mu.Unlock()
	if !built.inMain {
		t.Fatal("testenv.JitBinary needs the package's TestMain to be testenv.Main (it removes the built binaries)")
	}
	if jit, ok := built.jit[released]; ok {
		return jit
	}
	dir, err := os.MkdirTemp("", "jit-test-bin-")
	if err != nil {
		t.Fatal(err)
	}
	built.dirs = append(built.dirs, dir)
	if err := buildJit(dir, released); err != nil {
		t.Fatal(err)
	}
	if built.jit == nil {
		built.jit = map[bool]string{}
	}
	built.jit[released] = filepath.Join(dir, "jit")
	return built.jit[released]
}

func buildJit(dir string, released bool) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	for _, b := range []struct{ out, pkg string }{
		{"jit", "."},
		{"jit-credential-process", "./cmd/jit-credential-process"},
	} {
		args := []string{"build", "-o", filepath.Join(dir, b.out)}
		if released {
			args = append(args, "-trimpath", "-ldflags", "-s -w")
		}
		cmd := exec.Command("go", append(args, b.pkg)...)
		cmd.Dir = root
		if released {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b.out, err, out)
		}
	}
	return nil
}

// moduleRoot is the directory of jit's go.mod, wherever the test runs.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the jit module (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}
