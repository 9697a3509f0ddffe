// Package notify tells people and systems about requests: signed webhooks
// and Slack messages, plus reminders before grants end and requests time out.
//
// The audit log is the outbox. Every lifecycle event is already an audit
// record written in the same transaction as the state change, so a
// Dispatcher per sink only keeps a durable cursor (the seq of the last event
// it delivered), reads the events after it, delivers them in order with
// retries and capped exponential backoff, and moves the cursor only after a
// delivery succeeded. A crash or restart loses nothing: delivery resumes at
// the cursor, and receivers drop the rare repeat by its idempotency key
// ("<sink>:<seq>"). A named store lease keeps one dispatcher per sink
// running across replicas.
package notify

import (
	"strconv"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

// Event types notify adds to the audit log (and delivers like any other).
const (
	// TypeGrantEndingSoon tells the requester their grant ends within
	// notify.remind_before.
	TypeGrantEndingSoon = "grant.ending_soon"
	// TypeRequestTimingOut tells approvers a pending request times out
	// within notify.remind_before.
	TypeRequestTimingOut = "request.timing_out"
	// TypeReviewPending reminds approvers that a grant (break-glass, or of
	// a role with review: required) still waits for its post-hoc review;
	// repeated every ReminderOptions.ReviewEvery until a verdict.
	TypeReviewPending = "grant.review_pending"
)

// PayloadSchema is the version of Payload; a change that breaks receivers
// gets a new number (docs/webhooks.md).
const PayloadSchema = 1

// Payload is the JSON body of a webhook delivery (docs/webhooks.md). It is
// the audit record plus what a receiver needs to act on it.
type Payload struct {
	Schema int `json:"schema"`
	// ID is the idempotency key, also sent as X-Jit-Idempotency-Key.
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject,omitempty"`
	Role      string            `json:"role,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	// Hash is the audit record's chain hash (jit audit verify).
	Hash string `json:"hash"`
	// Link is the request's approver page, when the server has a public_url.
	Link string `json:"link,omitempty"`
}

// NewPayload builds the body for e.
func NewPayload(e *api.AuditEvent, key, publicURL string) Payload {
	return Payload{
		Schema: PayloadSchema, ID: key, Type: e.Type, Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor,
		Subject: e.Subject, Role: e.Role, RequestID: e.RequestID, Reason: e.Reason, Detail: e.Detail,
		Hash: e.Hash, Link: ApproveLink(publicURL, e.RequestID),
	}
}

// ApproveLink is the approver page of a request ("" without public_url).
func ApproveLink(publicURL, requestID string) string {
	if publicURL == "" || requestID == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + "/approve/" + requestID
}

// IdempotencyKey names one event's delivery to one sink; a receiver that
// has seen it already must drop the repeat.
func IdempotencyKey(sink string, seq int64) string {
	return sink + ":" + strconv.FormatInt(seq, 10)
}

// Outbound reports whether an event type is ever delivered: notify's own
// outcome records (notify.*) are not, or each delivery would make another.
func Outbound(typ string) bool { return !strings.HasPrefix(typ, "notify.") }

// MatchType reports whether typ passes a sink's event filter: empty means
// every type except the opt-in ones; entries are exact types or prefixes
// ending in ".*" ("request.*"). An opt-in type (OptIn) passes only a filter
// that names it or its own prefix ("auth.failed", "auth.*"), never an empty
// filter or "*".
func MatchType(filter []string, typ string) bool {
	optIn := OptIn(typ)
	if len(filter) == 0 {
		return !optIn
	}
	for _, f := range filter {
		switch {
		case f == typ:
			return true
		case f == "*":
			if !optIn {
				return true
			}
		case strings.HasSuffix(f, ".*") && strings.HasPrefix(typ, f[:len(f)-1]):
			return true
		}
	}
	return false
}

// OptIn reports whether typ reaches a sink only when its filter asks for it
// by name: auth.failed, which anyone on the network can cause (it is one
// summary per window, but still not news for a chat channel or a pager).
func OptIn(typ string) bool { return typ == audit.TypeAuthFailed }
