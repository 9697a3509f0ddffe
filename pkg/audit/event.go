package audit

import "time"

// Event is an audit record before the store assigns its sequence number and
// chains it. Time is set by the caller (injected clock).
type Event struct {
	Time      time.Time
	Type      string
	Actor     string
	Subject   string
	Role      string
	RequestID string
	Reason    string
	Detail    map[string]string
}
