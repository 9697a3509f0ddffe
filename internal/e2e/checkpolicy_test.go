package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/testenv"
)

// TestCheckPolicyPrintsEveryErrorWithItsPosition runs the jit binary's
// `server check-policy` on a file with three mistakes (a duplicate role
// name, an unknown key, a bad duration): one run prints all three, one line
// each with file:line:col, and exits 1.
func TestCheckPolicyPrintsEveryErrorWithItsPosition(t *testing.T) {
	dir := t.TempDir()
	src := `oidc: {issuer: "http://127.0.0.1:1", client_id: jit-cli}
store: {dsn: "sqlite:///tmp/unused.db"}
roles:
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
  - name: readonly
    arn: arn:aws:iam::123456789012:role/readonly2
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    aprovers_required: 2
  - name: admin
    arn: arn:aws:iam::123456789012:role/admin
    eligible: {groups: [developers]}
    approvers: {groups: [approvers]}
    max_duration: 2x
`
	if err := os.WriteFile(filepath.Join(dir, "three.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.JitBinary(t), "server", "check-policy", "three.yaml")
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "DBUS_SESSION_BUS_ADDRESS=disabled:"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v (want 1)\n%s", err, errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out.String())
	}
	positioned := regexp.MustCompile(`(?m)^(?:jit: )?three\.yaml:(\d+):(\d+): (.*)$`)
	got := positioned.FindAllStringSubmatch(errOut.String(), -1)
	want := []struct{ line, col, msg string }{
		{"8", "11", `roles[1].name: role "readonly" is defined twice`},
		{"12", "5", `roles[1]: unknown key "aprovers_required"`},
		{"17", "19", `roles[2].max_duration: "2x" is not a duration`},
	}
	if len(got) != len(want) {
		t.Fatalf("%d positioned lines, want %d:\n%s", len(got), len(want), errOut.String())
	}
	for i, w := range want {
		if got[i][1] != w.line || got[i][2] != w.col || !strings.HasPrefix(got[i][3], w.msg) {
			t.Errorf("line %d: %q, want %s:%s: %s", i+1, got[i][0], w.line, w.col, w.msg)
		}
	}
}
