package store

import "errors"

// ErrUnavailable matches (errors.Is) every UnavailableError.
var ErrUnavailable = errors.New("the store is unavailable")

// UnavailableError is a failure of the database rather than of the
// operation: it is restarting, cannot be reached, or cannot write (a full
// disk). Nothing was written, except after a failed COMMIT, whose outcome
// is unknown (the caller reads the state back before it tries again). The
// API answers it with 503 unavailable: retry in a few seconds.
type UnavailableError struct {
	// Reason says what is wrong in words for the person who called
	// ("PostgreSQL cannot be reached"); it names no host or account.
	Reason string
	// Err is the driver's error, for the server's log.
	Err error
}

func (e *UnavailableError) Error() string { return e.Reason + ": " + e.Err.Error() }

// Unwrap returns the driver's error and ErrUnavailable.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }
