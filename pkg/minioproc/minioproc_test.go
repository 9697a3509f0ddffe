package minioproc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/minioproc"
)

func TestParseAPIURLReadsTheLoopbackAddress(t *testing.T) {
	for line, want := range map[string]string{
		`{"message":"API: http://127.0.0.1:34891 "}`:                   "http://127.0.0.1:34891",
		`{"message":"API: http://[::1]:34891 http://127.0.0.1:34891"}`: "http://127.0.0.1:34891",
		`{"message":"WebUI: http://127.0.0.1:1 "}`:                     "",
		`not json API: http://127.0.0.1:34891`:                         "",
		`{"message":"API: http://10.0.0.1:9000 "}`:                     "",
	} {
		got, ok := minioproc.ParseAPIURL([]byte(line))
		if got != want || ok != (want != "") {
			t.Errorf("ParseAPIURL(%s) = %q, %v; want %q", line, got, ok, want)
		}
	}
}

func TestFindToolNamesMakeDepsWhenMissing(t *testing.T) {
	env := map[string]string{"PATH": t.TempDir(), "HOME": t.TempDir()}
	_, err := minioproc.FindTool(func(k string) string { return env[k] }, "no-such-tool-jit", minioproc.Module)
	var nf *minioproc.NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("err = %v, want a NotFoundError naming make deps", err)
	}
}

func TestFindToolLooksInJITToolsBin(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "fake-tool")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PATH": t.TempDir(), "JIT_TOOLS_BIN": dir}
	got, err := minioproc.FindTool(func(k string) string { return env[k] }, "fake-tool", "example.com/x")
	if err != nil || got != bin {
		t.Fatalf("FindTool = %q, %v; want %q", got, err, bin)
	}
}

// TestStartServesUntilStop runs the real minio binary.
func TestStartServesUntilStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := minioproc.Start(ctx, minioproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ready := func() int {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint()+"/minio/health/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if !strings.HasPrefix(s.Endpoint(), "http://127.0.0.1:") || ready() != http.StatusOK {
		t.Fatalf("endpoint %q not ready", s.Endpoint())
	}
	if strings.Contains(s.Output(), s.RootPassword()) {
		t.Fatal("minio's output shows the root password")
	}
	s.Stop()
	s.Stop()
	if ready() != 0 {
		t.Fatal("minio still answers after Stop")
	}
}
