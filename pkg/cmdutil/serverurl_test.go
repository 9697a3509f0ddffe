package cmdutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/secureurl"
)

// TestServerURLRefusesPlainHTTPOffLoopback: a plain-http server in the config
// file, in JIT_SERVER or in --server would send ID tokens in clear text;
// every source is refused with a hint naming it, and loopback stays allowed
// for local development.
func TestServerURLRefusesPlainHTTPOffLoopback(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("server: http://jit.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flag, env string
		source          string // "" = accepted
	}{
		{"config file", "", "", "server in " + cfgPath},
		{"environment", "", "http://jit.example.com:8080", "JIT_SERVER"},
		{"flag", "http://192.168.1.10", "", "--server"},
		{"loopback flag", "http://127.0.0.1:8080/", "", ""},
		{"https env", "", "https://jit.example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			f := New(io)
			f.Env = func(k string) string {
				switch k {
				case "JIT_CONFIG":
					return cfgPath
				case "JIT_SERVER":
					return tc.env
				}
				return ""
			}
			f.Flags.Server = tc.flag
			got, err := f.ServerURL()
			if tc.source == "" {
				if err != nil || strings.HasSuffix(got, "/") {
					t.Fatalf("ServerURL() = %q, %v; want it accepted", got, err)
				}
				return
			}
			var insecure *secureurl.InsecureError
			var hint *HintError
			if !errors.As(err, &insecure) || !errors.As(err, &hint) || !strings.Contains(hint.Hint, tc.source) {
				t.Fatalf("ServerURL() = %q, %v; want a refusal whose hint names %s", got, err, tc.source)
			}
		})
	}
}
