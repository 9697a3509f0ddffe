// Package exitcode is how a failure ends the jit process: the exit codes and
// the error that carries the next step for a person together with its code.
//
// It imports only the standard library, so the server (pkg/serverapp), the
// slim credential path (pkg/credpath) and the commands (pkg/cmdutil, which
// re-exports these names and keeps the documented table) share one type
// without linking each other: the server never links the keyring or the CLI
// session, and the credential path never links cobra.
package exitcode

import "fmt"

// Exit codes, documented in docs/exit-codes.md (generated from
// cmdutil.ExitCodes).
const (
	OK            = 0
	Error         = 1
	Cancelled     = 2
	Usage         = 3
	LoginRequired = 4
	Denied        = 5
	NoGrant       = 6
	Pending       = 8
	Unreachable   = 9
	Interrupted   = 130
)

// HintError is an error with a next step for the person reading it.
type HintError struct {
	Err  error
	Hint string
	Code int // exit code; 0 means Error
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// ExitCode is the code the process ends with for e: Code, or Error when unset.
func (e *HintError) ExitCode() int {
	if e.Code == OK {
		return Error
	}
	return e.Code
}

// WithHint wraps err with a hint and an exit code (nil stays nil).
func WithHint(err error, code int, hint string, args ...any) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hint: fmt.Sprintf(hint, args...), Code: code}
}
