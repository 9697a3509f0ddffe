// Package e2e runs the built jit binary against real peers: the OIDC
// provider (pkg/devidp), the jit server on SQLite, MinIO as STS and S3, and
// the AWS CLI and boto3 as credential_process clients.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/testenv"
)

var jitBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "jit-e2e-bin")
	if err != nil {
		panic(err)
	}
	jitBin = filepath.Join(dir, "jit")
	build := exec.Command("go", "build", "-o", jitBin, "../..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build jit:", err)
		os.Exit(1)
	}
	// The slim credential_process binary, beside jit as every package ships it.
	slim := exec.Command("go", "build", "-o", filepath.Join(dir, "jit-credential-process"), "../../cmd/jit-credential-process")
	slim.Stdout, slim.Stderr = os.Stderr, os.Stderr
	if err := slim.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build jit-credential-process:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one running sandbox: IdP, MinIO, jit server.
type world struct {
	t      *testing.T
	idp    *devidp.Provider
	minio  *testenv.MinIOServer
	server string // URL
	dir    string
	bucket string
}

const e2ePolicy = `
admins: {groups: [admins]}
roles:
  - name: readonly
    arn: arn:aws:iam::000000000000:role/readonly
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 15m
    max_duration: 1h
    auto_approve: {groups: [developers]}
    session_policy: |
      {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket","s3:ListAllMyBuckets","s3:GetBucketLocation"],"Resource":"*"}]}
  - name: admin
    arn: arn:aws:iam::000000000000:role/admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 30m
    max_duration: 1h
    reason_required: true
  - name: longjob
    arn: arn:aws:iam::000000000000:role/longjob
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 15m
    max_duration: 1h
    max_extensions: 3
    max_total_duration: 2h
    auto_approve: {groups: [developers]}
`

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), bucket: "jit-e2e"}
	w.idp = testenv.OIDC(t)
	w.minio = testenv.MinIO(t)
	w.minio.CreateBucket(t, w.bucket)
	user := w.minio.AddUser(t, "readwrite")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
oidc: {issuer: %q, client_id: %q}
store: {dsn: %q}
aws:
  region: %s
  sts_endpoint: %q
  access_key_id: %s
  secret_access_key: %s
  session_deny_actions: ["s3:*"]
sweep_interval: 1s
%s`, w.idp.Issuer(), w.idp.ClientID(), "sqlite://"+filepath.Join(w.dir, "jit.db"), w.minio.Region(), w.minio.Endpoint(),
		user.AccessKeyID, user.SecretAccessKey, e2ePolicy)
	path := filepath.Join(w.dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logf, err := os.Create(filepath.Join(w.dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- serverapp.Run(ctx, serverapp.Options{ConfigPath: path, Listener: ln,
			Logger: slog.New(slog.NewJSONHandler(logf, nil)), Reload: make(chan os.Signal)})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		logf.Close()
	})
	w.server = "http://" + ln.Addr().String()
	return w
}

// user is one person's isolated CLI environment: config, keyring, AWS config.
type user struct {
	w    *world
	name string
	env  []string
}

func (w *world) user(name string) *user {
	home := filepath.Join(w.dir, name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		w.t.Fatal(err)
	}
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"JIT_SERVER=" + w.server,
		"JIT_CONFIG=" + filepath.Join(home, "jit.yaml"),
		"JIT_KEYRING_BACKEND=file",
		"JIT_KEYRING_FILE_DIR=" + filepath.Join(home, "keyring"),
		"JIT_FILE_PASSPHRASE=e2e-" + name,
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
		"CI=true", // headless: never open a browser
	}
	return &user{w: w, name: name, env: env}
}

// run runs the jit binary (or another program when args[0] is absolute).
func (u *user) run(args ...string) (stdout, stderr string, code int) {
	u.w.t.Helper()
	bin := jitBin
	if filepath.IsAbs(args[0]) {
		bin, args = args[0], args[1:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = u.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		u.w.t.Fatalf("run %s %v: %v", bin, args, err)
	}
	return out.String(), errb.String(), code
}

// must runs and fails the test on a non-zero exit.
func (u *user) must(args ...string) string {
	u.w.t.Helper()
	out, errOut, code := u.run(args...)
	if code != 0 {
		u.w.t.Fatalf("%s: jit %s: exit %d\nstdout: %s\nstderr: %s", u.name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

var urlLine = regexp.MustCompile(`open (http\S+)`)

// login runs `jit login --no-browser` and signs in at the IdP's page the
// way a person would: it reads the URL the CLI printed and completes it.
func (u *user) login() {
	t := u.w.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, jitBin, "login", "--no-browser")
	cmd.Env = u.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	sc := bufio.NewScanner(stderr)
	signedIn := make(chan error, 1)
	found := false
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
			p, _ := u.w.idp.User(u.name)
			go func() { signedIn <- u.w.idp.CompleteDevice(ctx, m[1], u.name, p.Password, true) }()
			found = true
			break
		}
	}
	if !found {
		_ = cmd.Wait()
		t.Fatalf("jit login printed no sign-in URL:\n%s", seen.String())
	}
	go io.Copy(&seen, stderr) //nolint:errcheck
	if err := <-signedIn; err != nil {
		t.Fatalf("sign in as %s: %v\n%s", u.name, err, seen.String())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("jit login as %s: %v\nstderr: %s", u.name, err, seen.String())
	}
	if !strings.Contains(out.String(), "Logged in") {
		t.Fatalf("login output: %q", out.String())
	}
}
