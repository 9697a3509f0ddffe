package credpath

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/jit-access/jit/pkg/exitcode"
)

// JitBeside finds the jit executable next to the running slim binary (how
// every package ships them), else jit on PATH.
func JitBeside(self string) (string, error) {
	name := "jit"
	if runtime.GOOS == "windows" {
		name = "jit.exe"
	}
	if self != "" {
		p := filepath.Join(filepath.Dir(self), name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("jit not found beside %s nor on PATH: %w", BinaryName, err)
	}
	return p, nil
}

// ExecJit is the production Delegate: `jit credential-process ARGS…`, the
// full path (lock, login refresh, re-vend), with this process's stdio and
// environment. The message on failure to start says what to do.
func ExecJit(stderr io.Writer) Delegate {
	return func(args []string) int {
		self, _ := os.Executable()
		jit, err := JitBeside(self)
		if err == nil {
			err = execJit(jit, append([]string{jit, "credential-process"}, args...))
		}
		var code exitCode
		if ok := asExitCode(err, &code); ok {
			return int(code)
		}
		return Report(&exitcode.HintError{Err: fmt.Errorf("the cached credentials need a refresh, and jit cannot run: %w", err), Code: exitcode.Error,
			Hint: "reinstall jit so that jit and " + BinaryName + " sit side by side, then: jit configure aws"}, stderr)
	}
}

// exitCode is the delegate's exit status when it ran (non-unix platforms).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func asExitCode(err error, code *exitCode) bool {
	if c, ok := err.(exitCode); ok {
		*code = c
		return true
	}
	return false
}
