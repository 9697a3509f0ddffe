package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/credcache"
)

// keyringBefore is the last commit whose slim credential_process read the
// keyring through the keyring library (99designs/keyring, whose Secret
// Service and KWallet backends connect to the D-Bus session bus in package
// init); TestBenchKeyringStartup builds it beside today's binary.
const keyringBefore = "db810b7371143e894dda8e72ee009a7eb1ca2662"

// The block of docs/benchmarks.md that TestBenchKeyringStartup writes; the
// report (TestBench) keeps it when it rewrites the file.
const (
	keyringBlockStart = "<!-- keyring-startup: written by TestBenchKeyringStartup -->"
	keyringBlockEnd   = "<!-- /keyring-startup -->"
)

var keyringBlock = regexp.MustCompile(`(?s)` + regexp.QuoteMeta(keyringBlockStart) + `.*?` + regexp.QuoteMeta(keyringBlockEnd) + "\n?")

// TestBenchKeyringStartup measures the slim credential_process before and
// after it stopped linking the keyring library, side by side in one run
// (interleaved), on keyctl with and without a session bus, the file
// backend and Secret Service, against the floor and aws-vault. It writes
// its block of docs/benchmarks.md. Skipped unless JIT_BENCH=1 (make bench).
func TestBenchKeyringStartup(t *testing.T) {
	if os.Getenv("JIT_BENCH") != "1" {
		t.Skip("benchmarks run with JIT_BENCH=1 (make bench)")
	}
	runs := 60
	if os.Getenv("JIT_BENCH_QUICK") == "1" {
		runs = 12
	}
	dir := t.TempDir()
	after := filepath.Join(filepath.Dir(testenv.JitBinaryAsReleased(t)), "jit-credential-process")
	before := buildSlimAt(t, dir, keyringBefore)
	floor := buildFloor(t, dir)
	srv := newCountingListener(t)
	server := srv.url()
	noBus := "DBUS_SESSION_BUS_ADDRESS=disabled:"
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	haveBus := bus != "" && bus != "disabled:"

	kc, err := credcache.Open(credcache.Config{Backend: credcache.BackendKeyctl})
	if err != nil {
		t.Fatalf("open keyctl: %v", err)
	}
	seed(t, kc, server, "bench", 1)
	t.Cleanup(func() { _ = kc.DeleteCredentials(context.Background(), server, "bench") })
	fdir := filepath.Join(dir, "keyring-file")
	fc, err := credcache.Open(credcache.Config{Backend: credcache.BackendFile, FileDir: fdir,
		FilePassphrase: func(string) (string, error) { return filePassphrase, nil }})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, fc, server, "bench", 1)

	busEnv := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus, "XDG_RUNTIME_DIR=" + os.Getenv("XDG_RUNTIME_DIR"), "XDG_DATA_HOME=" + os.Getenv("XDG_DATA_HOME")}
	env := func(extra ...string) []string { return fastEnv(dir, server, extra...) }
	type pair struct {
		label string
		env   []string
	}
	pairs := []pair{{"keyctl, no session bus", env(noBus, "JIT_KEYRING_BACKEND=keyctl")}}
	if haveBus {
		pairs = append(pairs, pair{"keyctl, session bus running", env(append(busEnv, "JIT_KEYRING_BACKEND=keyctl")...)})
	}
	pairs = append(pairs, pair{"file backend", env(noBus, "JIT_KEYRING_BACKEND=file", "JIT_KEYRING_FILE_DIR="+fdir, "JIT_FILE_PASSPHRASE="+filePassphrase)})
	ss := false
	if os.Getenv("JIT_TEST_SECRET_SERVICE") == "1" && haveBus {
		sc, err := credcache.Open(credcache.Config{Backend: credcache.BackendSecretService})
		if err == nil {
			seed(t, sc, server, "bench", 1)
			t.Cleanup(func() { _ = sc.DeleteCredentials(context.Background(), server, "bench") })
			pairs = append(pairs, pair{"Secret Service (gnome-keyring)", env(append(busEnv, "JIT_KEYRING_BACKEND=secret-service")...)})
			ss = true
		} else {
			t.Logf("secret service not measured: %v", err)
		}
	}
	cmds := []procCmd{{name: "floor (Go program printing the JSON)", args: []string{floor}, env: env(noBus)}}
	for _, p := range pairs {
		cmds = append(cmds,
			procCmd{name: "before: " + p.label, args: []string{before, "--role", "bench"}, env: p.env},
			procCmd{name: "after: " + p.label, args: []string{after, "--role", "bench"}, env: p.env})
	}
	avEnv, avArgs := awsVaultFile(t, dir, server, noBus)
	cmds = append(cmds, procCmd{name: "aws-vault " + awsVaultVersion + " export, file backend", args: avArgs, env: avEnv})
	for _, c := range cmds {
		if out, _ := output(t, c); !strings.Contains(out, `"AccessKeyId"`) {
			t.Fatalf("%s printed %q, not credential_process JSON", c.name, out)
		}
	}
	load0 := loadavg()
	res := runInterleaved(t, cmds, 5, runs)
	if n := srv.count.Load(); n != 0 {
		t.Fatalf("the cached path called the server %d times", n)
	}
	floorMs, avMs := res[0].median(), res[len(res)-1].median()

	var b strings.Builder
	fmt.Fprintf(&b, "%s\n## 1b. Keyring start-up: the slim credential_process before and after it stopped linking the keyring library\n\n", keyringBlockStart)
	fmt.Fprintf(&b, "Written by `make bench` (TestBenchKeyringStartup) on %s; load average %s at the start, %s at the end. "+
		"*before* is `jit-credential-process` built from commit %s, which read the keyring through 99designs/keyring: that library's "+
		"Secret Service and KWallet backends call `dbus.SessionBus()` in package init, so every start paid for a session-bus "+
		"connection whichever backend it then used. *after* is this checkout, which reads keyctl, the file backend and Secret Service "+
		"with pkg/keyread and does not link the library (TestCredentialPathStaysSlim). Every command printed the same "+
		"credential_process JSON; %d interleaved runs each after 5 warm-ups; the jit server was a port that counts connections (it saw 0).\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), load0, loadavg(), keyringBefore[:12], runs)
	floorCPU := median(res[0].cpu)
	fmt.Fprintf(&b, "Wall time is each start's fork+exec+wait as Go times it; CPU time is the child's user + system time from the kernel "+
		"(rusage), which other work on the machine inflates far less than the wall time.\n\n")
	fmt.Fprintf(&b, "| command | wall median ms | wall p25–p75 ms | CPU median ms | wall × floor | CPU × floor | after ÷ before (wall, CPU) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for i, r := range res {
		ratio := ""
		if strings.HasPrefix(r.name, "after: ") {
			ratio = fmt.Sprintf("%.2f×, %.2f×", r.median()/res[i-1].median(), median(r.cpu)/median(res[i-1].cpu))
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.2f–%.2f | %.2f | %.2f× | %.2f× | %s |\n", r.name, r.median(), quantile(r.samples, .25), quantile(r.samples, .75),
			median(r.cpu), r.median()/floorMs, median(r.cpu)/floorCPU, ratio)
	}
	fmt.Fprintf(&b, "\n| target | wall | CPU | verdict (wall) |\n|---|---:|---:|---|\n")
	for _, r := range res {
		x, c := r.median()/floorMs, median(r.cpu)/floorCPU
		switch r.name {
		case "after: keyctl, session bus running", "after: keyctl, no session bus":
			fmt.Fprintf(&b, "| %s within 10%% of the floor | %.2f× | %.2f× | %s |\n", strings.TrimPrefix(r.name, "after: "), x, c, verdict(x <= 1.10))
		case "after: Secret Service (gnome-keyring)":
			fmt.Fprintf(&b, "| Secret Service within 2× the floor | %.2f× | %.2f× | %s |\n", x, c, verdict(x <= 2))
		case "after: file backend":
			fmt.Fprintf(&b, "| (file backend ÷ aws-vault, for reference) | %.2f× | %.2f× | |\n", r.median()/avMs, median(r.cpu)/median(res[len(res)-1].cpu))
		}
	}
	if !haveBus {
		fmt.Fprintf(&b, "\nNo session bus in this run, so neither the keyctl-with-a-bus pair nor Secret Service was measured (`make bench` runs inside `dbus-run-session` with gnome-keyring when both are installed).\n")
	} else if !ss {
		fmt.Fprintf(&b, "\nSecret Service was not measured in this run (set `JIT_TEST_SECRET_SERVICE=1` inside a D-Bus session with an unlocked gnome-keyring).\n")
	}
	if haveBus {
		_, bInit := inittrace(t, cmds[3], 7)
		_, aInit := inittrace(t, cmds[4], 7)
		fmt.Fprintf(&b, "\nPackage init with a session bus running (GODEBUG=inittrace=1, median of 7): before %.2f ms, after %.2f ms.\n", bInit, aInit)
	}
	fmt.Fprintf(&b, "%s\n", keyringBlockEnd)
	out := os.Getenv("JIT_BENCH_OUT")
	if out == "" {
		out = "../../docs"
	}
	if err := writeKeyringBlock(filepath.Join(out, "benchmarks.md"), b.String()); err != nil {
		t.Fatal(err)
	}
	t.Log(b.String())
}

// writeKeyringBlock puts block into the benchmarks page: in place of the
// previous one, else after section 1 (before section 2).
func writeKeyringBlock(path, block string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	page := string(raw)
	switch {
	case keyringBlock.MatchString(page):
		page = keyringBlock.ReplaceAllLiteralString(page, block)
	case strings.Contains(page, "\n## 2. "):
		page = strings.Replace(page, "\n## 2. ", "\n"+block+"\n## 2. ", 1)
	default:
		page += "\n" + block
	}
	return os.WriteFile(path, []byte(page), 0o644)
}

// keptKeyringBlock is the block in the page at path, for the report to keep.
func keptKeyringBlock(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return keyringBlock.FindString(string(raw))
}

// buildSlimAt builds jit-credential-process from commit rev of this
// repository (git archive into dir), the way the release builds it.
func buildSlimAt(t *testing.T, dir, rev string) string {
	t.Helper()
	src := filepath.Join(dir, "src-"+rev[:12])
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	// From the top of the work tree: in a subdirectory git archives only that.
	archive := exec.Command("sh", "-c", `cd "$(git rev-parse --show-toplevel)" && git archive "$1" | tar -x -C "$2"`, "sh", rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, out)
	}
	bin := filepath.Join(dir, "jit-credential-process-"+rev[:12])
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/jit-credential-process")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build jit-credential-process at %s: %v\n%s", rev, err, out)
	}
	return bin
}

func loadavg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
