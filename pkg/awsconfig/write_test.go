package awsconfig

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
)

func TestDiff(t *testing.T) {
	if d := Diff([]byte("a\n"), []byte("a\n")); d != "" {
		t.Errorf("Diff of equal inputs = %q, want empty", d)
	}

	// Changes closer than twice the context share a hunk, as in diff -u.
	old := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n"
	new := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n14\nfifteen\n"
	want := `--- current
+++ planned
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
@@ -12,3 +12,4 @@
 12
 13
 14
+fifteen
`
	if got := Diff([]byte(old), []byte(new)); got != want {
		t.Errorf("Diff =\n%s\nwant\n%s", got, want)
	}

	// Adding a block to an empty file, CRLF hidden.
	got := Diff(nil, []byte("x\r\ny\r\n"))
	if want := "--- current\n+++ planned\n@@ -0,0 +1,2 @@\n+x\n+y\n"; got != want {
		t.Errorf("Diff from empty =\n%q\nwant\n%q", got, want)
	}
}

func TestDiffShowsPlannedBlock(t *testing.T) {
	existing := []byte("[default]\nregion = us-east-1\n")
	updated, _, err := Plan(existing, []Profile{devRO})
	if err != nil {
		t.Fatal(err)
	}
	d := Diff(existing, updated)
	for _, want := range []string{"+" + BeginMarker, "+[profile dev-ro]", "+" + EndMarker, " region = us-east-1"} {
		if !strings.Contains(d, want+"\n") {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	if strings.Contains(d, "-[default]") {
		t.Errorf("diff removes the user's lines:\n%s", d)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()

	t.Run("new file is 0600 in a new directory", func(t *testing.T) {
		path := filepath.Join(dir, "new", ".aws", "config")
		if err := WriteFile(path, []byte("x\n")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
		}
		assertContent(t, path, "x\n")
	})

	t.Run("existing mode kept", func(t *testing.T) {
		path := filepath.Join(dir, "config644")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(path, []byte("new")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
		}
		assertContent(t, path, "new")
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".jit-") {
				t.Errorf("temporary file left behind: %s", e.Name())
			}
		}
	})

	t.Run("symlink written through", func(t *testing.T) {
		target := filepath.Join(dir, "dotfiles-config")
		link := filepath.Join(dir, "linked-config")
		if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(link, []byte("new")); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(link)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the symlink was replaced by a plain file")
		}
		assertContent(t, target, "new")
	})
}

func assertContent(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}

// TestBotocoreReadsPlannedConfig has the real reader of this file, botocore
// (Debian's python3-botocore, what /usr/bin/aws runs on), parse a planned
// config: the user's profiles survive, jit's appear, and the
// credential_process line splits into the argv jit expects.
func TestBotocoreReadsPlannedConfig(t *testing.T) {
	testenv.SkipPeerInShortMode(t, "botocore (python3)")
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import botocore.session").Run(); err != nil {
		testenv.MissingPeer(t, fmt.Sprintf("botocore not available to %s (%v): apt-get install python3-boto3 (scripts/deps.sh)", python, err))
	}
	existing := []byte("[default]\r\nregion = us-east-1\r\n\r\n[sso-session corp]\r\nsso_region = us-east-1\r\n\r\n[profile mine]\r\nsso_session = corp")
	jit := Profile{Name: "prod-admin", Role: "prod-admin", Region: "eu-west-1", Server: "https://jit.example.com", CredentialProcess: "/opt/my tools/jit"}
	updated, _, err := Plan(existing, []Profile{jit, devRO})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config")
	if err := WriteFile(path, updated); err != nil {
		t.Fatal(err)
	}
	script := `
import json, botocore.session
from botocore.compat import compat_shell_split
s = botocore.session.Session()
profiles = s.full_config["profiles"]
out = {name: dict(p) for name, p in profiles.items()}
out["argv"] = compat_shell_split(profiles["prod-admin"]["credential_process"])
print(json.dumps(out))
`
	cmd := exec.Command(python, "-c", script)
	cmd.Env = []string{"AWS_CONFIG_FILE=" + path, "HOME=" + t.TempDir()}
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	for _, name := range []string{"default", "mine", "prod-admin", "dev-ro"} {
		if _, ok := got[name]; !ok {
			t.Errorf("botocore does not see profile %q: %s", name, raw)
		}
	}
	prod, _ := got["prod-admin"].(map[string]any)
	if prod["region"] != "eu-west-1" {
		t.Errorf("prod-admin region = %v", prod["region"])
	}
	argv, _ := json.Marshal(got["argv"])
	if want := `["/opt/my tools/jit","credential-process","--role","prod-admin","--server","https://jit.example.com"]`; string(argv) != want {
		t.Errorf("argv = %s, want %s", argv, want)
	}
}
