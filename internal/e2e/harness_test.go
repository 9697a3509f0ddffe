// Package e2e runs the built jit binary against real peers: the OIDC
// provider (pkg/devidp), the jit server on SQLite, MinIO as STS and S3, and
// the AWS CLI and boto3 as credential_process clients.
package e2e

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/serverapp"
	"github.com/jit-access/jit/pkg/vend"
)

// TestMain removes the jit binary that testenv.JitBinary builds once.
func TestMain(m *testing.M) { testenv.Main(m) }

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

var e2ePolicy = testenv.Policy(testenv.S3ReadOnly,
	testenv.NewRole("admin", "default_duration", "30m", "max_duration", "1h", "reason_required", "true"),
	testenv.Idle,
	testenv.OnCall.With("max_extensions", "2").With("max_total_duration", "2h"),
	testenv.NewRole("longjob", "default_duration", "15m", "max_duration", "1h", "max_extensions", "3",
		"max_total_duration", "2h", "auto_approve", "{groups: [developers]}"))

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
	// user: the honest stand-in for AWS's inline Deny (docs/design-notes.md,
	// "MinIO stands in for AWS"), after
	// which MinIO refuses every session that user vended.
	revokeByDisablingParent bool
	// extraConfig is added to the server config (such as issuers:), and
	// policy replaces e2ePolicy when set.
	extraConfig, policy string
	// slackAPIURL points the server's Slack at the local fake.
	slackAPIURL string
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
		user.AccessKeyID, user.SecretAccessKey, activitySecret, o.extraConfig+cmpOr(o.policy, e2ePolicy))
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
			Logger: slog.New(slog.NewJSONHandler(logf, nil)), Reload: make(chan os.Signal), SlackAPIURL: o.slackAPIURL}
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

// user is one person's isolated CLI environment (testenv.User) in a world.
type user struct {
	*testenv.User
	w    *world
	name string
	env  []string
}

func (w *world) user(name string) *user {
	u := testenv.NewUser(w.t, testenv.JitBinary(w.t), w.dir, name, w.server)
	return &user{User: u, w: w, name: name, env: u.Env}
}

// run runs the jit binary (or another program when args[0] is absolute).
func (u *user) run(args ...string) (stdout, stderr string, code int) {
	u.w.t.Helper()
	return u.Run(args...)
}

// must runs and fails the test on a non-zero exit.
func (u *user) must(args ...string) string {
	u.w.t.Helper()
	return u.Must(args...)
}

// login runs `jit login --no-browser` and signs in at the world's IdP the
// way a person would: it reads the URL the CLI printed and completes it.
func (u *user) login() {
	u.w.t.Helper()
	u.Login(func(ctx context.Context, url string) error { return u.w.peer.signIn(ctx, url, u.name) })
}

func cmpOr(a, b string) string { return cmp.Or(a, b) }
