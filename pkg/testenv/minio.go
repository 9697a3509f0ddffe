package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The MinIO and mc versions the tests are pinned to. MinIO is AGPL: it runs as
// a separate test server and is never imported.
const (
	minioModule  = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
	mcModule     = "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"
	minioRegion  = "us-east-1"
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

	mu   sync.Mutex
	logs bytes.Buffer // the server's output, shown when a test fails
}

// MinIO starts the minio binary on 127.0.0.1 (port chosen by the kernel and
// read back from its output) with a temporary data directory and random root
// credentials, waits until it is ready and stops it when the test ends.
// It fails the test, naming the install command, when minio is missing.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin := findTool(t, "minio", minioModule)
	m := &MinIOServer{
		rootUser:     "jitroot" + randomHex(t, 6),
		rootPassword: randomHex(t, 20),
		mcConfigDir:  t.TempDir(),
		httpClient:   &http.Client{Timeout: 10 * time.Second},
	}
	// The kernel picks the port, so there is no free-port race on the API
	// port; minio also binds [::1] on the same port, which can collide, so
	// a failed start is retried with a fresh port.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		endpoint, err := m.start(t, bin)
		if err == nil {
			m.endpoint = endpoint
			return m
		}
		lastErr = err
	}
	t.Fatalf("testenv: start minio: %v\n%s", lastErr, m.output())
	return nil
}

// start runs one minio process and returns its endpoint once it is ready.
// On success the process is stopped in t.Cleanup; on failure it is stopped
// before start returns.
func (m *MinIOServer) start(t testing.TB, bin string) (string, error) {
	dir := t.TempDir()
	cmd := exec.Command(bin, "server",
		"--address", "127.0.0.1:0",
		"--console-address", "127.0.0.1:0",
		"--certs-dir", filepath.Join(dir, "certs"),
		"--json",
		filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.rootUser,
		"MINIO_ROOT_PASSWORD="+m.rootPassword,
		"MINIO_BROWSER=off", // no console at all
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on",
		"HOME="+dir,
	)
	// minio logs to stdout or stderr depending on the message: read both.
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", fmt.Errorf("output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close() // the child holds its own copy
	if err != nil {
		pr.Close()
		return "", fmt.Errorf("run %s: %w", bin, err)
	}
	stdout := pr
	exited := make(chan struct{})
	apiURL := make(chan string, 1)
	go func() {
		m.scan(stdout, apiURL)
		_ = cmd.Wait()
		stdout.Close()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var endpoint string
	select {
	case endpoint = <-apiURL:
	case <-exited:
		return "", errors.New("minio exited before it listened")
	case <-ctx.Done():
		stop()
		return "", errors.New("minio printed no API address in time")
	}
	if err := m.waitReady(ctx, endpoint, exited); err != nil {
		stop()
		return "", err
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("minio output:\n%s", m.output())
		}
	})
	return endpoint, nil
}

// scan keeps the server's output and sends the first API URL it announces.
func (m *MinIOServer) scan(r io.Reader, apiURL chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sent := false
	for sc.Scan() {
		line := sc.Bytes()
		m.mu.Lock()
		m.logs.Write(line)
		m.logs.WriteByte('\n')
		m.mu.Unlock()
		if sent {
			continue
		}
		var rec struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		// {"message":"API: http://127.0.0.1:34891 "}
		rest, ok := strings.CutPrefix(strings.TrimSpace(rec.Message), "API: ")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(rest) {
			if strings.HasPrefix(f, "http://127.0.0.1:") {
				apiURL <- f
				sent = true
				break
			}
		}
	}
}

func (m *MinIOServer) waitReady(ctx context.Context, endpoint string, exited <-chan struct{}) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/minio/health/ready", nil)
		if err != nil {
			return err
		}
		if resp, err := m.httpClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("minio at %s not ready: %w", endpoint, ctx.Err())
		case <-exited:
			return errors.New("minio exited before it was ready")
		case <-tick.C:
		}
	}
}

func (m *MinIOServer) output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs.String()
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
// tools cache (~/.cache/jit-tools/bin), and fails the test naming how to
// install it when it is nowhere.
func findTool(t testing.TB, name, module string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("JIT_TOOLS_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "jit-tools", "bin"))
	}
	dirs = append(dirs, "/root/.cache/jit-tools/bin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("testenv: %s not found in PATH, $JIT_TOOLS_BIN or ~/.cache/jit-tools/bin; run `make deps` "+
		"or `GOBIN=$HOME/.cache/jit-tools/bin go install %s`", name, module)
	return ""
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	return hex.EncodeToString(b)
}
