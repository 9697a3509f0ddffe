//go:build !unix

package credpath

import (
	"errors"
	"os"
	"os/exec"
)

// execJit runs jit with this process's stdio and returns its exit status as
// an exitCode (Windows has no exec).
func execJit(path string, argv []string) error {
	cmd := exec.Command(path, argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ExitCode())
	}
	if err != nil {
		return err
	}
	return exitCode(0)
}
