// Package minioproc runs a MinIO server as a child process on 127.0.0.1: it
// finds the binary, starts it on a kernel-chosen port read back from its
// output, waits until it is ready and stops it. The tests (internal/testenv) and
// `jit dev` (pkg/devenv) share it. MinIO is AGPL: it runs as a separate
// process and is never imported.
package minioproc

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
	"time"
)

// The MinIO and mc versions jit is tested with; `make deps` installs them.
const (
	Module   = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
	MCModule = "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"
	// Region is the region MinIO signs for by default.
	Region = "us-east-1"
)

const (
	defaultStartTimeout = 90 * time.Second
	stopGrace           = 10 * time.Second
	startAttempts       = 3
)

// NotFoundError says a tool is not installed and how to install it.
type NotFoundError struct {
	Name   string
	Module string
	// Searched are the directories looked in besides PATH.
	Searched []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s not found in PATH, $JIT_TOOLS_BIN or ~/.cache/jit-tools/bin; run `make deps` "+
		"or `GOBIN=$HOME/.cache/jit-tools/bin go install %s`", e.Name, e.Module)
}

// FindTool looks for an executable called name in PATH, then
// $JIT_TOOLS_BIN, then the tools cache ($XDG_CACHE_HOME or ~/.cache, then
// /root/.cache, under jit-tools/bin). getenv reads the environment
// [os.Getenv]; module names the install command in the error.
func FindTool(getenv func(string) string, name, module string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var dirs []string
	for _, d := range filepath.SplitList(getenv("PATH")) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if d := getenv("JIT_TOOLS_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if c := getenv("XDG_CACHE_HOME"); c != "" {
		dirs = append(dirs, filepath.Join(c, "jit-tools", "bin"))
	}
	if h := getenv("HOME"); h != "" {
		dirs = append(dirs, filepath.Join(h, ".cache", "jit-tools", "bin"))
	}
	dirs = append(dirs, "/root/.cache/jit-tools/bin")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", &NotFoundError{Name: name, Module: module, Searched: dirs}
}

// Find looks for the minio binary (see FindTool).
func Find(getenv func(string) string) (string, error) {
	return FindTool(getenv, "minio", Module)
}

// Options configure Start. Zero values select the defaults.
type Options struct {
	// Binary is the minio executable [Find(Getenv)].
	Binary string
	// Getenv reads the environment for the binary lookup [os.Getenv].
	Getenv func(string) string
	// DataDir holds the server's data; it is created when missing and kept.
	// Empty: a temporary directory removed by Stop.
	DataDir string
	// RootUser and RootPassword are the root credentials [random].
	RootUser     string
	RootPassword string
	// StartTimeout bounds each start attempt [90s]; ctx bounds them all.
	StartTimeout time.Duration
	// HTTPClient polls the readiness endpoint [10 s timeout].
	HTTPClient *http.Client
	// Env adds variables to the server's environment, e.g. its audit
	// webhook (MINIO_AUDIT_WEBHOOK_ENABLE_jit=on, …_ENDPOINT_jit=URL).
	Env []string
}

// Server is a running MinIO process. Stop ends it.
type Server struct {
	endpoint     string
	rootUser     string
	rootPassword string
	tempDir      string // removed by Stop when DataDir was not given

	stop     func()
	stopOnce sync.Once

	mu   sync.Mutex
	logs bytes.Buffer
}

// Start runs minio on 127.0.0.1 (API port chosen by the kernel and read
// back from its output; no console: MINIO_BROWSER=off) and returns once
// /minio/health/ready answers. ctx bounds only the start-up: the process
// runs until Stop. A failed start is retried with a fresh port, since
// minio also binds [::1] on the port it got for 127.0.0.1, which can be
// taken.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" {
		bin, err := Find(opts.Getenv)
		if err != nil {
			return nil, err
		}
		opts.Binary = bin
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	s := &Server{rootUser: opts.RootUser, rootPassword: opts.RootPassword}
	var err error
	if s.rootUser == "" {
		if s.rootUser, err = randomHex(6); err != nil {
			return nil, err
		}
		s.rootUser = "jitroot" + s.rootUser
	}
	if s.rootPassword == "" {
		if s.rootPassword, err = randomHex(20); err != nil {
			return nil, err
		}
	}
	dir := opts.DataDir
	if dir == "" {
		if s.tempDir, err = os.MkdirTemp("", "jit-minio-"); err != nil {
			return nil, fmt.Errorf("minio data directory: %w", err)
		}
		dir = s.tempDir
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("minio data directory %s: %w", dir, err)
	}

	var lastErr error
	for range startAttempts {
		if lastErr = s.start(ctx, opts, dir); lastErr == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	s.removeTemp()
	return nil, fmt.Errorf("start minio (%s): %w; its output:\n%s", opts.Binary, lastErr, s.Output())
}

// start runs one minio process; on failure the process is stopped.
func (s *Server) start(ctx context.Context, opts Options, dir string) error {
	//nolint:noctx // the process outlives ctx, which bounds the start only; Stop ends it
	cmd := exec.Command(opts.Binary, "server",
		"--address", "127.0.0.1:0",
		"--console-address", "127.0.0.1:0",
		"--certs-dir", filepath.Join(dir, "certs"),
		"--json",
		filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.rootUser,
		"MINIO_ROOT_PASSWORD="+s.rootPassword,
		"MINIO_BROWSER=off", // no console at all
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on",
		"HOME="+dir,
	)
	cmd.Env = append(cmd.Env, opts.Env...)
	// minio logs to stdout or stderr depending on the message: read both.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close() // the child holds its own copy
	if err != nil {
		pr.Close()
		return fmt.Errorf("run %s: %w", opts.Binary, err)
	}
	exited := make(chan struct{})
	apiURL := make(chan string, 1)
	go func() {
		s.scan(pr, apiURL)
		_ = cmd.Wait()
		pr.Close()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	var endpoint string
	select {
	case endpoint = <-apiURL:
	case <-exited:
		return errors.New("minio exited before it listened")
	case <-ctx.Done():
		stop()
		return fmt.Errorf("minio printed no API address: %w", ctx.Err())
	}
	if err := waitReady(ctx, opts.HTTPClient, endpoint, exited); err != nil {
		stop()
		return err
	}
	s.endpoint = endpoint
	s.stop = stop
	return nil
}

// scan keeps the server's output and sends the first API URL it announces.
func (s *Server) scan(r io.Reader, apiURL chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sent := false
	for sc.Scan() {
		line := sc.Bytes()
		s.mu.Lock()
		s.logs.Write(line)
		s.logs.WriteByte('\n')
		s.mu.Unlock()
		if sent {
			continue
		}
		if u, ok := ParseAPIURL(line); ok {
			apiURL <- u
			sent = true
		}
	}
}

// ParseAPIURL reads the loopback API URL from one line of minio's --json
// output, such as {"message":"API: http://127.0.0.1:34891 "}.
func ParseAPIURL(line []byte) (string, bool) {
	var rec struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(line, &rec) != nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(rec.Message), "API: ")
	if !ok {
		return "", false
	}
	for _, f := range strings.Fields(rest) {
		if strings.HasPrefix(f, "http://127.0.0.1:") {
			return f, true
		}
	}
	return "", false
}

func waitReady(ctx context.Context, client *http.Client, endpoint string, exited <-chan struct{}) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/minio/health/ready", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
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

// Stop interrupts the process, kills it after 10 s, and removes a
// temporary data directory. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		s.removeTemp()
	})
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		_ = os.RemoveAll(s.tempDir)
	}
}

// Output is what the server has printed so far (it names no secret: the
// root keys travel only in its environment).
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// Endpoint is the S3 and STS endpoint, e.g. http://127.0.0.1:34891.
func (s *Server) Endpoint() string { return s.endpoint }

// Region is the region the server signs for.
func (s *Server) Region() string { return Region }

// RootUser is the root access key id.
func (s *Server) RootUser() string { return s.rootUser }

// RootPassword is the root secret key. Never log it.
func (s *Server) RootPassword() string { return s.rootPassword }

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// AuditWebhookEnv is the environment that makes MinIO post one audit entry
// per API call to url with "Authorization: Bearer token" (jit's activity
// ingestion at /v1/activity/minio). MinIO sends the token verbatim.
func AuditWebhookEnv(url, token string) []string {
	return []string{
		"MINIO_AUDIT_WEBHOOK_ENABLE_jit=on",
		"MINIO_AUDIT_WEBHOOK_ENDPOINT_jit=" + url,
		"MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_jit=Bearer " + token,
	}
}
