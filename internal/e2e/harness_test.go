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

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/vend"
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
	idp    *devidp.Provider // nil when the world runs on another IdP
	peer   idpPeer
	minio  *testenv.MinIOServer
	server string // URL
	dir    string
	bucket string
	// parentKey is the jit server's own MinIO user (its STS caller).
	parentKey string
}

// disableParent is a vend.Revoker for MinIO: it disables the jit server's
// MinIO user, which makes MinIO refuse every session it vended at once.
type disableParent struct{ w *world }

func (d disableParent) Revoke(context.Context, vend.RevokeInput) error {
	d.w.minio.DisableUser(d.w.t, d.w.parentKey)
	return nil
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
  - name: idle
    arn: arn:aws:iam::000000000000:role/idle
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    default_duration: 30m
    max_duration: 1h
    auto_approve: {groups: [developers]}
    idle_timeout: 1m
  - name: oncall
    arn: arn:aws:iam::000000000000:role/oncall
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 1h
    break_glass: {allowed: true, max_duration: 30m}
    max_extensions: 2
    max_total_duration: 2h
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

// idpPeer is the OIDC provider a world's server trusts and its users sign
// in at: pkg/devidp (zitadel) by default, or oidc-provider (idpshapes_test.go).
type idpPeer struct {
	issuer, clientID string
	// extraOIDC is added to the server's oidc: block (such as scopes).
	extraOIDC string
	// signIn plays the user's browser step for a device grant.
	signIn func(ctx context.Context, verificationURIComplete, username string) error
}

// activitySecret authenticates MinIO's audit webhook to the jit server.
const activitySecret = "e2e-activity-secret-0123456789"

// worldOptions change how a world's server runs.
type worldOptions struct {
	// revokeByDisablingParent makes a revoke disable the server's MinIO
	// user: the honest stand-in for AWS's inline Deny (design.md §7), after
	// which MinIO refuses every session that user vended.
	revokeByDisablingParent bool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldWith(t, worldOptions{})
}

// newWorldWith runs a world on pkg/devidp (zitadel) with options o.
func newWorldWith(t *testing.T, o worldOptions) *world {
	t.Helper()
	idp := testenv.OIDC(t)
	w := newWorldOnWith(t, idpPeer{issuer: idp.Issuer(), clientID: idp.ClientID(),
		signIn: func(ctx context.Context, uri, username string) error {
			p, _ := idp.User(username)
			return idp.CompleteDevice(ctx, uri, username, p.Password, true)
		}}, o)
	w.idp = idp
	return w
}

// newWorldOn runs MinIO and a jit server that trusts peer.
func newWorldOn(t *testing.T, peer idpPeer) *world {
	t.Helper()
	return newWorldOnWith(t, peer, worldOptions{})
}

func newWorldOnWith(t *testing.T, peer idpPeer, o worldOptions) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), bucket: "jit-e2e", peer: peer}
	// The server's listener comes first: MinIO is started with its audit
	// webhook pointing at it, so grant activity flows from the first call.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.minio = testenv.MinIOWithEnv(t, testenv.AuditWebhookEnv("http://"+ln.Addr().String()+"/v1/activity/minio", activitySecret))
	w.minio.CreateBucket(t, w.bucket)
	user := w.minio.AddUser(t, "readwrite")
	w.parentKey = user.AccessKeyID
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
oidc: {issuer: %q, client_id: %q%s}
store: {dsn: %q}
aws:
  region: %s
  sts_endpoint: %q
  access_key_id: %s
  secret_access_key: %s
  session_deny_actions: ["s3:*"]
sweep_interval: 1s
activity: {secret: %q, window: 1m}
%s`, peer.issuer, peer.clientID, peer.extraOIDC, "sqlite://"+filepath.Join(w.dir, "jit.db"), w.minio.Region(), w.minio.Endpoint(),
		user.AccessKeyID, user.SecretAccessKey, activitySecret, e2ePolicy)
	path := filepath.Join(w.dir, "jit.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logf, err := os.Create(filepath.Join(w.dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		opts := serverapp.Options{ConfigPath: path, Listener: ln,
			Logger: slog.New(slog.NewJSONHandler(logf, nil)), Reload: make(chan os.Signal)}
		if o.revokeByDisablingParent {
			opts.Revoker = disableParent{w}
		}
		done <- serverapp.Run(ctx, opts)
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
			go func() { signedIn <- u.w.peer.signIn(ctx, m[1], u.name) }()
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
