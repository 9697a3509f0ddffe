package awsconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeExe(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestLocatePrefersTheSlimBinaryBesideJit(t *testing.T) {
	dir := t.TempDir()
	jit := filepath.Join(dir, "jit")
	writeExe(t, jit, 0o755)
	if got, direct := Locate(jit); got != jit || direct {
		t.Errorf("without the slim binary: Locate = %q, %v; want jit itself with its subcommand", got, direct)
	}
	slim := filepath.Join(dir, SlimBinary)
	writeExe(t, slim, 0o644)
	if got, direct := Locate(jit); got != jit || direct {
		t.Errorf("slim binary not executable: Locate = %q, %v; want the fallback", got, direct)
	}
	if err := os.Chmod(slim, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, direct := Locate(jit); got != slim || !direct {
		t.Errorf("Locate = %q, %v; want %q, direct", got, direct, slim)
	}
	p := Profile{Name: "prod", Role: "prod", Server: "https://jit.example.com", CredentialProcess: slim, Direct: true}
	if want := slim + " --role prod --server https://jit.example.com"; p.Command() != want {
		t.Errorf("Command() = %q, want %q", p.Command(), want)
	}
}

func TestProgramsReadsEachJitProfilesProgram(t *testing.T) {
	spaced := "/opt/my tools/jit-credential-process"
	profiles := []Profile{
		{Name: "a", Role: "a", CredentialProcess: "/usr/bin/jit"},
		{Name: "b", Role: "b", CredentialProcess: spaced, Direct: true},
		{Name: "c", Role: "c"},
	}
	data, _, err := Plan([]byte("[profile mine]\ncredential_process = /elsewhere\n"), profiles)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Programs(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "/usr/bin/jit", "b": spaced, "c": "jit"}
	if len(got) != len(want) {
		t.Fatalf("Programs = %v, want %v (profiles outside jit's block are not jit's)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("profile %s: program %q, want %q", k, got[k], v)
		}
	}
}

func TestStaleProgramNamesWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	want := filepath.Join(dir, SlimBinary)
	writeExe(t, want, 0o755)
	old := filepath.Join(dir, "old-jit")
	writeExe(t, old, 0o644)
	for _, tc := range []struct{ got, contains string }{
		{want, ""},
		{filepath.Join(dir, "gone"), "does not exist"},
		{old, "not executable"},
		{"jit", "not " + want},
	} {
		msg := StaleProgram(tc.got, want)
		if (tc.contains == "") != (msg == "") || !strings.Contains(msg, tc.contains) {
			t.Errorf("StaleProgram(%q) = %q, want it to contain %q", tc.got, msg, tc.contains)
		}
	}
}
