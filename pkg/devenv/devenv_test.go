package devenv_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jit-access/jit/internal/testenv"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/config"
	"github.com/jit-access/jit/pkg/devenv"
)

func start(t *testing.T, opts devenv.Options) *devenv.Sandbox {
	t.Helper()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	sb, err := devenv.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return sb
}

func client(t *testing.T, sb *devenv.Sandbox, user string) *apiclient.Client {
	t.Helper()
	var token func(context.Context) (string, error)
	if user != "" {
		tok := testenv.DeviceToken(t, sb.IdP, user)
		id, _ := tok.Extra("id_token").(string)
		token = func(context.Context) (string, error) { return id, nil }
	}
	c, err := apiclient.New(sb.ServerURL, nil, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSandboxVendsReadonlyCredentialsThroughMinIO is the sandbox's promise:
// the server answers discovery for the dev IdP, the demo policy loads, and
// alice's auto-approved readonly grant gets MinIO credentials that list the
// demo bucket but cannot write to it.
func TestSandboxVendsReadonlyCredentialsThroughMinIO(t *testing.T) {
	sb := start(t, devenv.Options{StateDir: t.TempDir()})
	if sb.MinIOEndpoint == "" {
		t.Fatalf("minio not started: %v (run make deps)", sb.MinIOMissing)
	}
	ctx := t.Context()

	disc, err := client(t, sb, "").Discovery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if disc.Issuer != sb.IssuerURL || disc.ClientID != sb.ClientID {
		t.Fatalf("discovery = %+v, want issuer %s client %s", disc, sb.IssuerURL, sb.ClientID)
	}
	cfg, err := config.Load(sb.ConfigPath)
	if err != nil {
		t.Fatalf("the generated config does not load: %v", err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("config warnings: %v", cfg.Warnings)
	}
	var names []string
	for _, r := range cfg.Policy.Roles {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "readonly,admin,breakglass" {
		t.Fatalf("roles = %v", names)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, ok := sb.User(u); !ok {
			t.Fatalf("no demo user %s", u)
		}
	}

	alice := client(t, sb, "alice")
	roles, err := alice.Roles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auto := map[string]bool{}
	for _, r := range roles {
		auto[r.Name] = r.AutoApproved
	}
	if !auto["readonly"] || auto["admin"] {
		t.Fatalf("alice's roles: %+v (want readonly auto-approved, admin not)", roles)
	}

	req, err := alice.Create(ctx, api.CreateRequest{Role: "readonly", Reason: "devenv test", DurationSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	if req.State != api.StateApproved && req.State != api.StateActive {
		t.Fatalf("readonly request is %s, want approved at once", req.State)
	}
	creds, err := alice.Credentials(ctx, req.ID)
	if err != nil {
		t.Fatal(err)
	}
	s3c := sb.S3Client(credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken))
	list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(sb.Bucket)})
	if err != nil {
		t.Fatalf("list the demo bucket with readonly credentials: %v", err)
	}
	if len(list.Contents) != len(devenv.DemoObjects()) {
		t.Fatalf("demo bucket holds %d objects, want %d", len(list.Contents), len(devenv.DemoObjects()))
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(sb.Bucket), Key: aws.String("x"),
		Body: strings.NewReader("x")}); err == nil {
		t.Fatal("readonly credentials could write to the demo bucket")
	}

	// Out of the box, MinIO's audit webhook reports those calls to jit:
	// the list and the refused put show as the grant's activity.
	if cfg.Activity.Secret == "" {
		t.Fatal("the sandbox config has no activity secret")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := alice.Get(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a := got.Activity; a != nil && a.Calls >= 2 && a.Errors >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after two S3 calls the grant's activity is %+v", got.Activity)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSandboxWithoutMinIOSaysRunMakeDeps: the sandbox runs without MinIO,
// and a vend fails with a message that names make deps.
func TestSandboxWithoutMinIOSaysRunMakeDeps(t *testing.T) {
	sb := start(t, devenv.Options{NoMinIO: true})
	if sb.MinIOEndpoint != "" || sb.MinIOMissing == nil {
		t.Fatalf("minio endpoint %q with NoMinIO", sb.MinIOEndpoint)
	}
	ctx := t.Context()
	alice := client(t, sb, "alice")
	req, err := alice.Create(ctx, api.CreateRequest{Role: "readonly", Reason: "no minio"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Credentials(ctx, req.ID)
	var se *apiclient.ServerError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("vend without minio: %v, want a server error naming make deps", err)
	}
	state := sb.StateDir
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("temporary state dir %s left behind (%v)", state, err)
	}
	// Closed: nothing answers any more.
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodGet, sb.ServerURL, nil)
	if resp, err := http.DefaultClient.Do(hreq); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Fatal("the server still answers after Close")
	}
}

func TestStartRefusesNonLoopbackListen(t *testing.T) {
	_, err := devenv.Start(t.Context(), devenv.Options{Listen: "0.0.0.0:0", NoMinIO: true})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want a refusal naming loopback", err)
	}
}
