package policy

// DeniedError says the policy does not allow the caller to do this (HTTP 403).
type DeniedError struct {
	Reason string
	// Hint says what to do next.
	Hint string
}

func (e *DeniedError) Error() string { return joinHint(e.Reason, e.Hint) }

// InvalidError says the request itself must change (HTTP 400).
type InvalidError struct {
	// Field is the request field at fault: role, duration, reason or ticket.
	Field  string
	Reason string
	Hint   string
}

func (e *InvalidError) Error() string { return joinHint(e.Reason, e.Hint) }

// ConflictError says the request is not in a state that allows this, for
// example approving a request that is no longer pending (HTTP 409).
type ConflictError struct {
	Reason string
	Hint   string
}

func (e *ConflictError) Error() string { return joinHint(e.Reason, e.Hint) }

func joinHint(reason, hint string) string {
	if hint == "" {
		return reason
	}
	return reason + " (" + hint + ")"
}
