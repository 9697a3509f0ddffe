//go:build unix

package credpath

import (
	"os"
	"syscall"
)

// execJit replaces this process with jit: no second process stays around,
// stdout, stderr and the exit code are jit's own. It returns only on failure.
func execJit(path string, argv []string) error {
	return syscall.Exec(path, argv, os.Environ())
}
