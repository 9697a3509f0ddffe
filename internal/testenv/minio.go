package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jit-access/jit/pkg/minioproc"
)

// The MinIO and mc versions the tests are pinned to. MinIO is AGPL: it runs as
// a separate test server and is never imported.
const (
	minioModule  = minioproc.Module
	mcModule     = minioproc.MCModule
	minioRegion  = minioproc.Region
	minioAlias   = "jit"
	startTimeout = 90 * time.Second
	adminTimeout = 60 * time.Second
)

// MinIOServer is a MinIO server on 127.0.0.1 for STS AssumeRole and S3.
//
// Facts about MinIO that tests rely on (checked against the pinned version):
//   - the root user may call AssumeRole; a session inherits the calling user's
//     policy, narrowed by the session policy;
//   - a session policy may Allow "*" on "*", but a Deny with Action "*" and an
//     aws:CurrentTime condition is refused ("unsupported condition keys");
//     Deny "s3:*" with that condition is enforced;
//   - disabling or deleting the parent user makes its STS credentials fail
//     at once (re-enabling the user makes them work again).
type MinIOServer struct {
	endpoint     string
	rootUser     string
	rootPassword string
	mcConfigDir  string
	httpClient   *http.Client
}

// MinIO starts the minio binary on 127.0.0.1 (port chosen by the kernel and
// read back from its output; see pkg/minioproc) with a temporary data
// directory and random root credentials, waits until it is ready and stops
// it when the test ends. A missing minio is a missing peer (see
// MissingPeer), named with its install command.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	return MinIOWithEnv(t, nil)
}

// MinIOWithEnv is MinIO with extra server environment, such as its audit
// webhook (see AuditWebhookEnv).
func MinIOWithEnv(t testing.TB, env []string) *MinIOServer {
	t.Helper()
	bin := findTool(t, "minio", minioModule)
	ctx, cancel := context.WithTimeout(context.Background(), 3*startTimeout)
	defer cancel()
	proc, err := minioproc.Start(ctx, minioproc.Options{Binary: bin, DataDir: t.TempDir(), StartTimeout: startTimeout, Env: env})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		proc.Stop()
		if t.Failed() {
			t.Logf("minio output:\n%s", proc.Output())
		}
	})
	return &MinIOServer{
		endpoint:     proc.Endpoint(),
		rootUser:     proc.RootUser(),
		rootPassword: proc.RootPassword(),
		mcConfigDir:  t.TempDir(),
		httpClient:   &http.Client{Timeout: 10 * time.Second},
	}
}

// Endpoint is the S3 and STS endpoint, e.g. http://127.0.0.1:34891.
func (m *MinIOServer) Endpoint() string { return m.endpoint }

// Region is the region MinIO signs for.
func (m *MinIOServer) Region() string { return minioRegion }

// RootCredentials are the server's root user's keys. Root may call
// AssumeRole too, but tests of the jit server should prefer AddUser.
func (m *MinIOServer) RootCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: m.rootUser, SecretAccessKey: m.rootPassword, Source: "testenv-minio-root"}
}

// S3Client returns a path-style S3 client for this server using creds.
func (m *MinIOServer) S3Client(creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		Region:       minioRegion,
		BaseEndpoint: aws.String(m.endpoint),
		Credentials:  creds,
		UsePathStyle: true,
		HTTPClient:   m.httpClient,
	})
}

// CreateBucket creates a bucket as root.
func (m *MinIOServer) CreateBucket(t testing.TB, name string) {
	t.Helper()
	root := credentials.StaticCredentialsProvider{Value: m.RootCredentials()}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if _, err := m.S3Client(root).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("testenv: create bucket %q: %v", name, err)
	}
}

// MinIOUser is a non-root MinIO user: its keys stand for the jit server's
// own AWS credentials, and AssumeRole sessions inherit its policies.
type MinIOUser struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Provider returns static credentials for the user.
func (u MinIOUser) Provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(u.AccessKeyID, u.SecretAccessKey, "")
}

// AddUser creates a user with random keys and attaches the named policies
// (MinIO's built-in "readwrite", "readonly", … or ones made by CreatePolicy;
// "readwrite" when none is given). It needs the mc binary (see findTool).
func (m *MinIOServer) AddUser(t testing.TB, policies ...string) MinIOUser {
	t.Helper()
	if len(policies) == 0 {
		policies = []string{"readwrite"}
	}
	u := MinIOUser{AccessKeyID: "jituser" + randomHex(t, 6), SecretAccessKey: randomHex(t, 20)}
	m.mc(t, "admin", "user", "add", minioAlias, u.AccessKeyID, u.SecretAccessKey)
	m.mc(t, "admin", "policy", "attach", minioAlias, strings.Join(policies, ","), "--user", u.AccessKeyID)
	return u
}

// CreatePolicy creates (or replaces) a named IAM-style policy.
func (m *MinIOServer) CreatePolicy(t testing.TB, name, document string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".json")
	if err := os.WriteFile(file, []byte(document), 0o600); err != nil {
		t.Fatalf("testenv: write policy: %v", err)
	}
	m.mc(t, "admin", "policy", "create", minioAlias, name, file)
}

// DisableUser disables a user. MinIO then refuses the STS credentials the
// user obtained, at once: the stand-in for revocation on AWS.
func (m *MinIOServer) DisableUser(t testing.TB, accessKey string) {
	t.Helper()
	m.mc(t, "admin", "user", "disable", minioAlias, accessKey)
}

// EnableUser re-enables a disabled user (its STS credentials work again).
func (m *MinIOServer) EnableUser(t testing.TB, accessKey string) {
	t.Helper()
	m.mc(t, "admin", "user", "enable", minioAlias, accessKey)
}

// DeleteUser removes a user and with it every STS credential it obtained.
func (m *MinIOServer) DeleteUser(t testing.TB, accessKey string) {
	t.Helper()
	m.mc(t, "admin", "user", "remove", minioAlias, accessKey)
}

// mc runs the MinIO client as root against this server. The admin API needs
// an encrypted body that only AGPL libraries produce, so it is driven
// through the separate mc binary instead.
func (m *MinIOServer) mc(t testing.TB, args ...string) {
	t.Helper()
	bin := findTool(t, "mc", mcModule)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	full := append([]string{"--config-dir", m.mcConfigDir, "--json", "--no-color"}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	hostURL := strings.Replace(m.endpoint, "http://", "http://"+m.rootUser+":"+m.rootPassword+"@", 1)
	cmd.Env = append(os.Environ(), "MC_HOST_"+minioAlias+"="+hostURL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The output names no secret: root keys travel only in the environment.
		t.Fatalf("testenv: mc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// findTool looks for a test tool in PATH, then $JIT_TOOLS_BIN, then the
// tools cache (~/.cache/jit-tools/bin); when it is nowhere it is a missing
// peer (see MissingPeer), named with how to install it.
func findTool(t testing.TB, name, module string) string {
	t.Helper()
	SkipPeerInShortMode(t, name)
	p, err := minioproc.FindTool(os.Getenv, name, module)
	if err != nil {
		MissingPeer(t, "testenv: "+err.Error())
	}
	return p
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// AuditWebhookEnv is the environment that makes MinIO post one audit entry
// per API call to url with "Authorization: Bearer token" (jit's activity
// ingestion at /v1/activity/minio).
func AuditWebhookEnv(url, token string) []string {
	return minioproc.AuditWebhookEnv(url, token)
}
