package policy

import "errors"

// DeniedError says the policy does not allow the caller to do this (HTTP 403).
type DeniedError struct {
	Reason string
	// Rule names the policy key that refused, "roles[NAME].eligible" (empty
	// when no single key did).
	Rule string
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
	// Rule names the policy key the request broke, "roles[NAME].max_duration".
	Rule string
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

// RuleOf returns the policy key that refused, when err is a *DeniedError or
// *InvalidError that names one.
func RuleOf(err error) string {
	var d *DeniedError
	if errors.As(err, &d) {
		return d.Rule
	}
	var i *InvalidError
	if errors.As(err, &i) {
		return i.Rule
	}
	return ""
}
