package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/awsconfig"
)

func TestKeyringBuildChecksWarnWhenDarwinBuildLacksKeychain(t *testing.T) {
	// What `go build` with GOOS=darwin CGO_ENABLED=0 compiles in.
	got := KeyringBuild("darwin", []string{"pass", "file"}, "file", true)
	if len(got) != 1 {
		t.Fatalf("checks = %+v, want one", got)
	}
	c := got[0]
	if !c.OK || !c.Warn {
		t.Errorf("check = %+v, want ok with a warning", c)
	}
	for _, want := range []string{"in use: file", "compiled in: pass, file", "lacks darwin's own store (keychain)"} {
		if !strings.Contains(c.Msg, want) {
			t.Errorf("message %q lacks %q", c.Msg, want)
		}
	}
}

func TestKeyringBuildChecksQuietWithNativeStore(t *testing.T) {
	for _, tc := range []struct {
		goos     string
		compiled []string
		inUse    string
	}{
		{"darwin", []string{"keychain", "pass", "file"}, "keychain"},
		{"windows", []string{"wincred", "file"}, "wincred"},
		{"linux", []string{"secret-service", "kwallet", "keyctl", "pass", "file"}, "keyctl"},
	} {
		got := KeyringBuild(tc.goos, tc.compiled, tc.inUse, false)
		if len(got) != 1 || !got[0].OK || got[0].Warn || !strings.Contains(got[0].Msg, "in use: "+tc.inUse) {
			t.Errorf("%s: checks = %+v, want one quiet ok naming %s", tc.goos, got, tc.inUse)
		}
	}
}

// credential_process never prompts, so a file keyring with no passphrase in
// the environment cannot be unlocked there: doctor fails and says how to fix.
func TestKeyringBuildChecksFailFileBackendWithoutPassphraseSource(t *testing.T) {
	got := KeyringBuild("darwin", []string{"keychain", "file"}, "file", false)
	if len(got) != 2 || got[1].Name != "passphrase" || got[1].OK {
		t.Fatalf("checks = %+v, want a failed passphrase check", got)
	}
	for _, want := range []string{"JIT_FILE_PASSPHRASE", "keyring: keychain", "JIT_KEYRING_BACKEND", "--keyring"} {
		if !strings.Contains(got[1].Msg, want) {
			t.Errorf("message %q lacks %q", got[1].Msg, want)
		}
	}
	if got := KeyringBuild("linux", []string{"keyctl", "file"}, "file", true); len(got) != 1 {
		t.Errorf("with JIT_FILE_PASSPHRASE set: checks = %+v, want no passphrase failure", got)
	}
}

func TestDoctorFlagsStaleCredentialProcessPaths(t *testing.T) {
	dir := t.TempDir()
	slim := filepath.Join(dir, awsconfig.SlimBinary)
	if err := os.WriteFile(slim, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	profiles := []awsconfig.Profile{
		{Name: "current", Role: "current", CredentialProcess: slim, Direct: true},
		{Name: "moved", Role: "moved", CredentialProcess: filepath.Join(dir, "old", "jit")},
		{Name: "legacy", Role: "legacy"}, // `jit credential-process`, as older versions wrote
	}
	data, _, err := awsconfig.Plan(nil, profiles)
	if err != nil {
		t.Fatal(err)
	}
	msg := StaleProfiles(data, slim)
	for _, want := range []string{"profile legacy runs jit, not " + slim, "profile moved " + filepath.Join(dir, "old", "jit") + " does not exist"} {
		if !strings.Contains(msg, want) {
			t.Errorf("doctor said %q; want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "profile current") {
		t.Errorf("doctor flagged the current profile: %q", msg)
	}
	data, _, _ = awsconfig.Plan(nil, profiles[:1])
	if msg := StaleProfiles(data, slim); msg != "" {
		t.Errorf("nothing stale, doctor said %q", msg)
	}
}
