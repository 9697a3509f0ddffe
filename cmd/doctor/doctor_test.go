package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/awsconfig"
)

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
	msg := staleProfiles(data, slim)
	for _, want := range []string{"profile legacy runs jit, not " + slim, "profile moved " + filepath.Join(dir, "old", "jit") + " does not exist"} {
		if !strings.Contains(msg, want) {
			t.Errorf("doctor said %q; want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "profile current") {
		t.Errorf("doctor flagged the current profile: %q", msg)
	}
	data, _, _ = awsconfig.Plan(nil, profiles[:1])
	if msg := staleProfiles(data, slim); msg != "" {
		t.Errorf("nothing stale, doctor said %q", msg)
	}
}
