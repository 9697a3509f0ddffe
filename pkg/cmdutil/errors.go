// Package cmdutil holds what every command shares: the Factory of lazily
// built dependencies, the typed errors that carry a hint, and the one table
// of exit codes.
package cmdutil

import (
	"errors"
	"fmt"

	"github.com/jit-access/jit/pkg/exitcode"
)

// Exit codes, documented in docs/exit-codes.md (generated from ExitCodes).
// They are pkg/exitcode's, named here for the commands.
const (
	ExitOK            = exitcode.OK
	ExitError         = exitcode.Error
	ExitCancelled     = exitcode.Cancelled
	ExitUsage         = exitcode.Usage
	ExitLoginRequired = exitcode.LoginRequired
	ExitDenied        = exitcode.Denied
	ExitNoGrant       = exitcode.NoGrant
	ExitPending       = exitcode.Pending
	ExitUnreachable   = exitcode.Unreachable
	ExitInterrupted   = exitcode.Interrupted
)

// ExitCodes is the table shown in docs and `jit help exit-codes`.
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "success"},
	{ExitError, "an error (the message says what went wrong and what to try)"},
	{ExitCancelled, "the request was cancelled, or a prompt was declined"},
	{ExitUsage, "bad flags or arguments"},
	{ExitLoginRequired, "not logged in, or the login expired: run jit login"},
	{ExitDenied, "the request was denied, timed out, or the policy forbids it"},
	{ExitNoGrant, "no active grant for the role: request one with jit request"},
	{ExitPending, "the request is still pending (--no-wait, or the wait was interrupted)"},
	{ExitUnreachable, "the jit server could not be reached"},
	{ExitInterrupted, "interrupted (Ctrl-C)"},
}

// HintError is an error with a next step for the person reading it
// (pkg/exitcode's, which the server and the credential path also use).
type HintError = exitcode.HintError

// WithHint wraps err with a hint and an exit code.
func WithHint(err error, code int, hint string, args ...any) error {
	return exitcode.WithHint(err, code, hint, args...)
}

// FlagError is a usage mistake; the command's usage is shown with it.
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf makes a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ErrSilent means the command already told the user; just exit non-zero.
var ErrSilent = errors.New("silent error")

// StatusError carries an exit code with no further message.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return fmt.Sprintf("exit %d", e.Code) }
