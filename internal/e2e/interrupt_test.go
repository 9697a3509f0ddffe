package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/testenv"
)

// TestCtrlCLeavesTheRequestPendingAndSaysHowToResume interrupts a waiting
// jit request: it exits 130, the request stays pending, and stderr names
// the commands to resume or withdraw it.
func TestCtrlCLeavesTheRequestPendingAndSaysHowToResume(t *testing.T) {
	w := newWorld(t)
	alice := w.user("alice")
	alice.login()
	cmd := exec.Command(testenv.JitBinary(t), "request", "admin", "--reason", "interrupt me")
	cmd.Env = alice.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "is pending") {
			break
		}
	}
	time.Sleep(200 * time.Millisecond) // let it start waiting
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v\n%s", err, seen.String())
	}
	msg := seen.String()
	if !strings.Contains(msg, "still pending") || !strings.Contains(msg, "jit wait req_") || !strings.Contains(msg, "jit cancel req_") {
		t.Fatalf("stderr:\n%s", msg)
	}
	if got := alice.must("requests", "--state", "pending"); !strings.Contains(got, "admin") {
		t.Fatalf("the request is not pending any more:\n%s", got)
	}
}
