package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/credcache"
)

// awsVaultVersion is the peer the cached path is compared with.
const awsVaultVersion = "v7.2.0"

// procCmd is one command measured as a whole process.
type procCmd struct {
	name string
	args []string
	env  []string
}

// procResult is one command's wall times.
type procResult struct {
	name    string
	samples []float64 // ms
	// cpu is each run's CPU time (user + system, from the kernel's rusage),
	// steadier than the wall time on a machine busy with other work.
	cpu []float64 // ms
}

func (p procResult) median() float64 { return median(p.samples) }

// runInterleaved runs every command warmup times, then runs times each in
// round-robin order (A B C A B C …) so that noise from other work on the
// machine hits every command alike, and returns their wall times.
func runInterleaved(t *testing.T, cmds []procCmd, warmup, runs int) []procResult {
	t.Helper()
	res := make([]procResult, len(cmds))
	for i, c := range cmds {
		res[i].name = c.name
		for range warmup {
			runOnce(t, c)
		}
	}
	for range runs {
		for i, c := range cmds {
			wall, cpu := runTimed(t, c)
			res[i].samples = append(res[i].samples, ms(wall))
			res[i].cpu = append(res[i].cpu, ms(cpu))
		}
	}
	return res
}

func runOnce(t *testing.T, c procCmd) time.Duration {
	t.Helper()
	wall, _ := runTimed(t, c)
	return wall
}

// runTimed runs c once and returns its wall time and its CPU time.
func runTimed(t *testing.T, c procCmd) (wall, cpu time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.args[0], c.args[1:]...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", c.name, err, errb.String())
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// output runs a command once and returns its stdout and stderr.
func output(t *testing.T, c procCmd) (string, string) {
	t.Helper()
	cmd := exec.Command(c.args[0], c.args[1:]...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr: %s", c.name, err, errb.String())
	}
	return out.String(), errb.String()
}

// floorSource prints the same credential_process JSON and nothing else: the
// least any Go credential_process can cost.
const floorSource = `package main

import (
	"encoding/json"
	"os"
)

func main() {
	_ = json.NewEncoder(os.Stdout).Encode(struct {
		Version         int
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}{1, "ASIABENCHEXAMPLE", "bench-secret", "bench-session-token", "2099-01-01T00:00:00Z"})
}
`

func buildFloor(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "floor")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(floorSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module floor\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "floor-bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build floor: %v\n%s", err, out)
	}
	return bin
}

// awsVault finds aws-vault v7.2.0 in the tools cache or builds it through a
// throwaway module (a plain `go install …@v7.2.0` is refused here) and
// caches it for the next run.
func awsVault(t *testing.T) string {
	t.Helper()
	tools := os.Getenv("JIT_TOOLS_BIN")
	if tools == "" {
		c, _ := os.UserCacheDir()
		tools = filepath.Join(c, "jit-tools", "bin")
	}
	bin := filepath.Join(tools, "aws-vault-"+awsVaultVersion)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building aws-vault %s (about a minute, once)", awsVaultVersion)
	mod := t.TempDir()
	for _, args := range [][]string{
		{"go", "mod", "init", "x"},
		{"go", "get", "github.com/99designs/aws-vault/v7@" + awsVaultVersion},
		{"go", "build", "-trimpath", "-o", bin, "github.com/99designs/aws-vault/v7"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return bin
}

// countingListener accepts connections on the URL jit is pointed at and
// counts them: the cached path must make none.
type countingListener struct {
	ln    net.Listener
	count atomic.Int64
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.count.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *countingListener) url() string { return "http://" + c.ln.Addr().String() }

func benchCreds(role string, exp time.Time) api.Credentials {
	return api.Credentials{AccessKeyID: "ASIABENCH" + strings.ToUpper(role), SecretAccessKey: "bench-secret-" + role,
		SessionToken: "bench-session-token-" + role, Expiration: exp, STSExpiration: exp, GrantEndsAt: exp,
		RequestID: "req_bench_" + role, Role: role, Region: "us-east-1"}
}

// seed puts credentials for role and n-1 other roles in the cache.
func seed(t *testing.T, c *credcache.Cache, server, role string, n int) {
	t.Helper()
	exp := time.Now().Add(2 * time.Hour)
	for i := range n {
		r := role
		if i > 0 {
			r = fmt.Sprintf("%s-other-%03d", role, i)
		}
		if err := c.PutCredentials(context.Background(), server, r, benchCreds(r, exp)); err != nil {
			t.Fatalf("seed %s: %v", r, err)
		}
	}
}

type procSection struct {
	main, scale []procResult
	netCalls    int64
	closedPort  string // result of the run against a closed port
	inits       []initCost
	initTotal   map[string]float64 // binary → total init clock ms (median)
	sizes       map[string]int64
	secretSvc   bool
	runs        int
}

type initCost struct {
	pkg string
	ms  float64
}

const filePassphrase = "bench-passphrase"

func benchCredentialProcess(t *testing.T, runs int) *procSection {
	dir := t.TempDir()
	jit := testenv.JitBinaryAsReleased(t)
	floor := buildFloor(t, dir)
	av := awsVault(t)
	sec := &procSection{runs: runs, sizes: map[string]int64{}, initTotal: map[string]float64{}}
	for name, p := range map[string]string{"jit": jit, "floor": floor, "aws-vault " + awsVaultVersion: av} {
		if fi, err := os.Stat(p); err == nil {
			sec.sizes[name] = fi.Size()
		}
	}

	srv := newCountingListener(t)
	server := srv.url()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	base := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "JIT_SERVER=" + server,
		"JIT_CONFIG=" + filepath.Join(home, "none.yaml"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "AWS_EC2_METADATA_DISABLED=true"}
	noBus := "DBUS_SESSION_BUS_ADDRESS=disabled:"
	jitEnv := func(extra ...string) []string { return append(append([]string{}, base...), extra...) }
	cp := []string{jit, "credential-process", "--role", "bench"}

	// File backend, 3 items (the role and two others), 30 and 300.
	fileCmd := func(items int) procCmd {
		fdir := filepath.Join(dir, fmt.Sprintf("keyring-file-%d", items))
		c, err := credcache.Open(credcache.Config{Backend: credcache.BackendFile, FileDir: fdir,
			FilePassphrase: func(string) (string, error) { return filePassphrase, nil }})
		if err != nil {
			t.Fatal(err)
		}
		seed(t, c, server, "bench", items)
		return procCmd{name: fmt.Sprintf("jit, file backend (%d items)", items), args: cp,
			env: jitEnv(noBus, "JIT_KEYRING_BACKEND=file", "JIT_KEYRING_FILE_DIR="+fdir, "JIT_FILE_PASSPHRASE="+filePassphrase)}
	}
	// keyctl (the user keyring, jit's service name; this server's hash is unique).
	kc, err := credcache.Open(credcache.Config{Backend: credcache.BackendKeyctl})
	if err != nil {
		t.Fatalf("open keyctl: %v", err)
	}
	seed(t, kc, server, "bench", 3)
	t.Cleanup(func() {
		for i := range 300 {
			r := "bench"
			if i > 0 {
				r = fmt.Sprintf("bench-other-%03d", i)
			}
			_ = kc.DeleteCredentials(context.Background(), server, r)
		}
	})
	keyctlCmd := procCmd{name: "jit, keyctl (3 items)", args: cp, env: jitEnv(noBus, "JIT_KEYRING_BACKEND=keyctl")}

	// aws-vault on its encrypted file backend with a known passphrase.
	avDir := filepath.Join(dir, "aws-vault")
	os.MkdirAll(avDir, 0o700)
	awsCfg := filepath.Join(avDir, "config")
	os.WriteFile(awsCfg, []byte("[profile bench]\nregion = us-east-1\n"), 0o600)
	avEnv := append(append([]string{}, base...), noBus, "AWS_VAULT_BACKEND=file", "AWS_VAULT_FILE_DIR="+filepath.Join(avDir, "keys"),
		"AWS_VAULT_FILE_PASSPHRASE="+filePassphrase, "AWS_CONFIG_FILE="+awsCfg, "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(avDir, "credentials"))
	output(t, procCmd{name: "aws-vault add", args: []string{av, "add", "bench", "--env"},
		env: append(append([]string{}, avEnv...), "AWS_ACCESS_KEY_ID=AKIABENCHEXAMPLE", "AWS_SECRET_ACCESS_KEY=bench-secret")})
	avCmd := procCmd{name: "aws-vault " + awsVaultVersion + " export, file backend", args: []string{av, "export", "--no-session", "--format=json", "bench"}, env: avEnv}

	floorCmd := procCmd{name: "floor (Go program printing the JSON)", args: []string{floor}, env: jitEnv(noBus)}
	versionCmd := procCmd{name: "jit version (startup, no keyring)", args: []string{jit, "version"}, env: jitEnv(noBus)}
	file3 := fileCmd(3)

	// Every command's output is checked once before timing.
	for _, c := range []procCmd{floorCmd, keyctlCmd, file3, avCmd} {
		out, _ := output(t, c)
		var v struct {
			Version     int
			AccessKeyId string
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version != 1 || v.AccessKeyId == "" {
			t.Fatalf("%s printed %q (err %v), not credential_process JSON", c.name, out, err)
		}
	}

	cmds := []procCmd{floorCmd, versionCmd, keyctlCmd, file3, avCmd}
	if os.Getenv("JIT_TEST_SECRET_SERVICE") == "1" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		ss, err := credcache.Open(credcache.Config{Backend: credcache.BackendSecretService})
		if err == nil {
			seed(t, ss, server, "bench", 3)
			t.Cleanup(func() { _ = ss.DeleteCredentials(context.Background(), server, "bench") })
			ssEnv := jitEnv("JIT_KEYRING_BACKEND=secret-service", "DBUS_SESSION_BUS_ADDRESS="+os.Getenv("DBUS_SESSION_BUS_ADDRESS"),
				"XDG_RUNTIME_DIR="+os.Getenv("XDG_RUNTIME_DIR"), "XDG_DATA_HOME="+os.Getenv("XDG_DATA_HOME"))
			cmds = append(cmds, procCmd{name: "jit, Secret Service (gnome-keyring)", args: cp, env: ssEnv})
			sec.secretSvc = true
		} else {
			t.Logf("secret service not measured: %v", err)
		}
	}
	sec.main = runInterleaved(t, cmds, 5, runs)

	// Growth: more items in the keyring (10× and 100× the cached grants).
	seed(t, kc, server, "bench", 300)
	scale := []procCmd{floorCmd, file3, fileCmd(30), fileCmd(300), {name: "jit, keyctl (300 items)", args: cp, env: keyctlCmd.env}}
	sec.scale = runInterleaved(t, scale, 3, runs/2)

	sec.netCalls = srv.count.Load()
	// And once against a closed port: the cached path must not notice.
	srv.ln.Close()
	if _, _, err := tryRun(keyctlCmd); err != nil {
		sec.closedPort = "failed: " + err.Error()
	} else {
		sec.closedPort = "exit 0, same JSON"
	}

	// What does jit's startup cost? GODEBUG=inittrace=1, median of 7 runs.
	sec.inits, sec.initTotal["jit"] = inittrace(t, keyctlCmd, 7)
	_, sec.initTotal["floor"] = inittrace(t, floorCmd, 7)
	return sec
}

func tryRun(c procCmd) (string, string, error) {
	cmd := exec.Command(c.args[0], c.args[1:]...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), errb.String(), err
}

var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock`)

// inittrace returns the packages whose init costs most (median over runs)
// and the median total.
func inittrace(t *testing.T, c procCmd, runs int) ([]initCost, float64) {
	t.Helper()
	c.env = append(append([]string{}, c.env...), "GODEBUG=inittrace=1")
	per := map[string][]float64{}
	var totals []float64
	for range runs {
		_, stderr := output(t, c)
		total := 0.0
		for _, line := range strings.Split(stderr, "\n") {
			m := initLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			v, _ := strconv.ParseFloat(m[2], 64)
			per[m[1]] = append(per[m[1]], v)
			total += v
		}
		totals = append(totals, total)
	}
	var out []initCost
	for p, xs := range per {
		out = append(out, initCost{p, median(xs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ms > out[j].ms })
	return out, median(totals)
}
