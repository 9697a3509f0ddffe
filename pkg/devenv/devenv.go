// Package devenv starts jit's local sandbox for `jit dev`: the dev OIDC
// provider (pkg/devidp) with its demo users, MinIO as STS and S3 when it is
// installed (pkg/minioproc), and a jit server (pkg/serverapp) on SQLite
// with a demo policy, all on 127.0.0.1. Without MinIO the sandbox still
// runs; vending then fails with a message that names `make deps`.
package devenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jit-access/jit/pkg/devidp"
	"github.com/jit-access/jit/pkg/minioproc"
	"github.com/jit-access/jit/pkg/serverapp"
)

// Bucket is the demo bucket created in MinIO.
const Bucket = "jit-demo"

// DemoObjects are the objects put in Bucket at start (key → content).
func DemoObjects() map[string]string {
	return map[string]string{
		"hello.txt":           "Hello from the jit sandbox.\n",
		"reports/2026-q1.csv": "month,requests,approved\njan,12,11\nfeb,9,9\nmar,15,13\n",
	}
}

// Options configure Start. Zero values select the defaults.
type Options struct {
	// StateDir holds the generated config (jit.yaml), the SQLite database
	// and server.log; it is created when missing and kept. Empty: a
	// temporary directory removed by Close.
	StateDir string
	// Listen is the jit server's address [127.0.0.1:0]; loopback only.
	Listen string
	// NoMinIO runs without MinIO even when it is installed.
	NoMinIO bool
	// MinIOBinary is the minio executable [found by minioproc.Find(Getenv)].
	MinIOBinary string
	// Getenv reads the environment to find MinIO [os.Getenv].
	Getenv func(string) string
	// SweepInterval is the server's sweep interval [1s], so ended grants
	// show as ended at once.
	SweepInterval time.Duration
	// Logger receives the server's log; default: JSON lines in
	// StateDir/server.log.
	Logger *slog.Logger
	// Now is the server's clock [time.Now].
	Now func() time.Time
}

// Sandbox is a running sandbox. Close stops it.
type Sandbox struct {
	// ServerURL is the jit server, http://127.0.0.1:PORT.
	ServerURL string
	// IssuerURL is the OIDC provider's issuer.
	IssuerURL string
	// ClientID is the CLI's OIDC client.
	ClientID string
	// MinIOEndpoint is MinIO's S3 and STS endpoint; empty without MinIO.
	MinIOEndpoint string
	// MinIOMissing says why MinIO is not running (nil when it is).
	MinIOMissing error
	// Region is the region MinIO signs for.
	Region string
	// Bucket is the demo bucket.
	Bucket string
	// ConfigPath is the generated server config.
	ConfigPath string
	// StateDir holds the config, the database and server.log.
	StateDir string
	// Users are the demo users (alice, bob, carol) with their passwords.
	Users []devidp.User
	// IdP is the running OIDC provider (for CompleteDevice).
	IdP *devidp.Provider

	minio     *minioproc.Server
	noSTS     *http.Server
	stopSrv   context.CancelFunc
	served    chan error
	serverErr error
	logFile   *os.File
	tempState bool
	closers   []func() error
}

// Start runs the sandbox. ctx bounds only the start-up; the sandbox runs
// until Close.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	opts.setDefaults()
	sb := &Sandbox{Region: minioproc.Region, Bucket: Bucket, StateDir: opts.StateDir}
	defer func() {
		if err != nil {
			_ = sb.Close()
		}
	}()
	if err := sb.makeStateDir(); err != nil {
		return nil, err
	}
	ln, err := sb.listen(ctx, opts.Listen)
	if err != nil {
		return nil, err
	}
	sb.IdP, err = devidp.Start(ctx, devidp.Options{})
	if err != nil {
		return nil, fmt.Errorf("start the dev OIDC provider: %w", err)
	}
	sb.closers = append(sb.closers, sb.IdP.Close)
	sb.IssuerURL, sb.ClientID, sb.Users = sb.IdP.Issuer(), sb.IdP.ClientID(), sb.IdP.Users()

	activitySecret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	stsEndpoint, accessKey, secretKey, err := sb.startSTS(ctx, opts, activitySecret)
	if err != nil {
		return nil, err
	}
	sb.ConfigPath = filepath.Join(sb.StateDir, "jit.yaml")
	cfg := Config(ConfigInput{
		Listen: ln.Addr().String(), PublicURL: sb.ServerURL,
		Issuer: sb.IssuerURL, ClientID: sb.ClientID,
		DBPath:      filepath.Join(sb.StateDir, "jit.db"),
		STSEndpoint: stsEndpoint, Region: sb.Region, AccessKeyID: accessKey, SecretAccessKey: secretKey,
		SweepInterval: opts.SweepInterval, ActivitySecret: activitySecret,
	})
	if err := os.WriteFile(sb.ConfigPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", sb.ConfigPath, err)
	}
	tests := filepath.Join(sb.StateDir, "policy-tests.yaml")
	if err := os.WriteFile(tests, []byte(DemoPolicyTests()), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", tests, err)
	}

	if err := sb.serve(ctx, opts, ln); err != nil {
		return nil, err
	}
	return sb, nil
}

// setDefaults fills in the zero values of Options.
func (opts *Options) setDefaults() {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
}

// makeStateDir creates the state directory (a temporary one when none is
// given) and makes its path absolute.
func (sb *Sandbox) makeStateDir() (err error) {
	if sb.StateDir == "" {
		if sb.StateDir, err = os.MkdirTemp("", "jit-dev-"); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		sb.tempState = true
	} else if err := os.MkdirAll(sb.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory %s: %w (pick another with --state-dir)", sb.StateDir, err)
	}
	if sb.StateDir, err = filepath.Abs(sb.StateDir); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	return nil
}

// listen takes the jit server's port first: it is in the config (public_url).
// Only a loopback address is accepted.
func (sb *Sandbox) listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (pick another with --listen)", addr, err)
	}
	if addr, ok := ln.Addr().(*net.TCPAddr); !ok || !addr.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("refusing non-loopback address %s: the sandbox shows demo passwords; use 127.0.0.1:PORT", ln.Addr())
	}
	sb.ServerURL = "http://" + ln.Addr().String()
	sb.closers = append(sb.closers, func() error {
		// Closed by the server once it runs; closing twice is harmless here.
		_ = ln.Close()
		return nil
	})
	return ln, nil
}

// startSTS starts MinIO as STS and S3 when it can (it reports its audit to
// the server's activity endpoint, signed with activitySecret), else a
// stand-in that refuses every call; it returns the STS endpoint and the keys
// the server uses there.
func (sb *Sandbox) startSTS(ctx context.Context, opts Options, activitySecret string) (stsEndpoint, accessKey, secretKey string, err error) {
	switch {
	case opts.NoMinIO:
		sb.MinIOMissing = errors.New("minio disabled for this sandbox")
	default:
		bin := opts.MinIOBinary
		if bin == "" {
			bin, sb.MinIOMissing = minioproc.Find(opts.Getenv)
		}
		if sb.MinIOMissing == nil {
			if err := sb.startMinIO(ctx, bin, minioproc.AuditWebhookEnv(sb.ServerURL+"/v1/activity/minio", activitySecret)); err != nil {
				return "", "", "", err
			}
			stsEndpoint, accessKey, secretKey = sb.MinIOEndpoint, sb.minio.RootUser(), sb.minio.RootPassword()
		}
	}
	if sb.MinIOMissing != nil {
		if stsEndpoint, err = sb.startNoSTS(ctx); err != nil {
			return "", "", "", err
		}
		// Static keys keep the AWS SDK off its default chain (and off the
		// network); the stand-in answers every call with the same error.
		accessKey, secretKey = "jit-dev-no-minio", "jit-dev-no-minio-secret"
	}
	return stsEndpoint, accessKey, secretKey, nil
}

// serve runs the jit server on ln with the sandbox's config, logging to
// opts.Logger or to server.log in the state directory, and returns once it
// is ready.
func (sb *Sandbox) serve(ctx context.Context, opts Options, ln net.Listener) (err error) {
	log := opts.Logger
	if log == nil {
		sb.logFile, err = os.OpenFile(filepath.Join(sb.StateDir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		log = slog.New(slog.NewJSONHandler(sb.logFile, nil))
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	sb.stopSrv = stop
	sb.served = make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sb.served <- serverapp.Run(runCtx, serverapp.Options{
			ConfigPath: sb.ConfigPath, Logger: log, Listener: ln, Now: opts.Now,
			Ready: func(string) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-sb.served:
		sb.served = nil
		return fmt.Errorf("start the jit server (config %s, log %s): %w", sb.ConfigPath, filepath.Join(sb.StateDir, "server.log"), err)
	case <-ctx.Done():
		return fmt.Errorf("start the jit server: %w", ctx.Err())
	}
	return nil
}

func (sb *Sandbox) startMinIO(ctx context.Context, bin string, env []string) error {
	m, err := minioproc.Start(ctx, minioproc.Options{Binary: bin, Env: env})
	if err != nil {
		return fmt.Errorf("%w (or run jit dev without MinIO: move the binary away)", err)
	}
	sb.minio = m
	sb.closers = append(sb.closers, func() error { m.Stop(); return nil })
	sb.MinIOEndpoint = m.Endpoint()
	root := credentials.NewStaticCredentialsProvider(m.RootUser(), m.RootPassword(), "")
	client := S3Client(sb.MinIOEndpoint, sb.Region, root)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(sb.Bucket)}); err != nil {
		return fmt.Errorf("create the demo bucket %s in MinIO: %w", sb.Bucket, err)
	}
	for key, body := range DemoObjects() {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(sb.Bucket), Key: aws.String(key), Body: strings.NewReader(body),
		}); err != nil {
			return fmt.Errorf("put s3://%s/%s in MinIO: %w", sb.Bucket, key, err)
		}
	}
	return nil
}

// NoMinIOMessage is what STS calls answer when the sandbox runs without
// MinIO.
const NoMinIOMessage = "jit dev runs without MinIO, so there is no STS to vend credentials: run `make deps` " +
	"(or `GOBIN=$HOME/.cache/jit-tools/bin go install " + minioproc.Module + "`) and restart jit dev"

// startNoSTS serves a stand-in STS endpoint that refuses every call with
// NoMinIOMessage, so a request still works end to end up to the vend.
func (sb *Sandbox) startNoSTS(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen for the no-MinIO STS stand-in: %w", err)
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
		`<Code>JitDevNoMinIO</Code><Message>%s</Message></Error><RequestId>jit-dev</RequestId></ErrorResponse>`, NoMinIOMessage)
	sb.noSTS = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write(body.Bytes())
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	srv := sb.noSTS
	go func() { _ = srv.Serve(ln) }()
	sb.closers = append(sb.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), nil
}

// User returns the demo user with that username.
func (sb *Sandbox) User(username string) (devidp.User, bool) {
	for _, u := range sb.Users {
		if u.Username == username {
			return u, true
		}
	}
	return devidp.User{}, false
}

// S3Client is a path-style S3 client for the sandbox's MinIO.
func (sb *Sandbox) S3Client(creds aws.CredentialsProvider) *s3.Client {
	return S3Client(sb.MinIOEndpoint, sb.Region, creds)
}

// S3Client is a path-style S3 client for a MinIO endpoint.
func S3Client(endpoint, region string, creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  creds,
		UsePathStyle: true,
		HTTPClient:   &http.Client{Timeout: 30 * time.Second},
	})
}

// MinIORootCredentials are MinIO's root keys (the jit server's own keys in
// the sandbox); ok is false without MinIO. Never print them.
func (sb *Sandbox) MinIORootCredentials() (aws.Credentials, bool) {
	if sb.minio == nil {
		return aws.Credentials{}, false
	}
	return aws.Credentials{AccessKeyID: sb.minio.RootUser(), SecretAccessKey: sb.minio.RootPassword(), Source: "jit-dev-minio-root"}, true
}

// Wait returns when the jit server stops on its own (with an error naming
// server.log) or when ctx ends (nil).
func (sb *Sandbox) Wait(ctx context.Context) error {
	if sb.served == nil {
		return sb.serverErr
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-sb.served:
		sb.served = nil
		sb.serverErr = err
		if err == nil {
			err = errors.New("the jit server stopped")
		}
		return fmt.Errorf("jit server: %w (see %s)", err, filepath.Join(sb.StateDir, "server.log"))
	}
}

// Close stops the server, MinIO and the IdP, and removes a temporary state
// directory.
func (sb *Sandbox) Close() error {
	var errs []error
	if sb.stopSrv != nil {
		sb.stopSrv()
		sb.stopSrv = nil
		if sb.served != nil {
			if err := <-sb.served; err != nil {
				errs = append(errs, fmt.Errorf("jit server: %w", err))
			}
			sb.served = nil
		}
	}
	for i := len(sb.closers) - 1; i >= 0; i-- {
		if err := sb.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	sb.closers = nil
	if sb.logFile != nil {
		_ = sb.logFile.Close()
		sb.logFile = nil
	}
	if sb.tempState && sb.StateDir != "" {
		_ = os.RemoveAll(sb.StateDir)
		sb.tempState = false
	}
	return errors.Join(errs...)
}

// randomSecret makes the sandbox's activity secret (MinIO's audit webhook
// token), new for every run.
func randomSecret() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("activity secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}
