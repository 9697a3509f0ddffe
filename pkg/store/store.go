// Package store defines how jit keeps request state and the audit log: the
// contract (small interfaces composed into Store) and the logic every
// implementation shares (tree, cursors, activity aggregates, group commit).
// The one SQL implementation is store/sqlstore, opened through store/sqlite
// (the embedded default) or store/postgres (several replicas);
// store/storetest is the one suite both pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

// ErrNotFound is returned for an unknown request id.
var ErrNotFound = errors.New("not found")

// Mutation changes a request inside a store transaction and returns the audit
// event(s) that record the change. Returning an error aborts the transaction
// and nothing is written. Mutations must be pure functions of their input
// (a store may call one again after a serialization retry).
type Mutation func(r *api.Request) ([]audit.Event, error)

// Filter selects requests for List. Zero fields do not filter.
type Filter struct {
	Requester string      // only this requester's
	Roles     []string    // only these roles (nil: all)
	States    []api.State // only these states (nil: all)
	Limit     int         // page size (store caps it at 500; 0 means 50)
	Cursor    string      // from a previous page's NextCursor

	// RequesterIssuer and RequesterSubject select one principal's requests.
	// LegacyRequesters, with them, adds the requests stored before
	// principals existed (no issuer/subject) whose requester is one of
	// these names, compared case-insensitively.
	RequesterIssuer, RequesterSubject string
	LegacyRequesters                  []string

	// EndsAtOrAfter, when set, keeps only requests whose EndsAt is at or
	// after it: every grant that started at or after it (a grant never ends
	// before it starts), and none that was never approved. An index serves it
	// (the access report's scan).
	EndsAtOrAfter time.Time

	// AwaitingReview keeps only grants waiting for their post-hoc review
	// (api.Request.AwaitsReview). An index serves it (the review queue).
	AwaitingReview bool
}

// AuditFilter selects audit events. Zero fields do not filter.
type AuditFilter struct {
	Since, Until time.Time
	User         string // actor or subject
	Role         string
	RequestID    string
	Type         string
	AfterSeq     int64 // cursor: only events with Seq > AfterSeq
	Limit        int   // 0 means 100; capped at 1000
}

// The store's contract is split by concern, so that a consumer can ask for
// the part it uses and a new implementation sees every part it must have.
// Every method is safe for concurrent use, and for use by several processes
// on one database (PostgreSQL).

// Requests keeps access requests.
type Requests interface {
	// Create inserts a new request and its audit events in one transaction.
	// The request's Version becomes 1.
	Create(ctx context.Context, r *api.Request, events []audit.Event) error
	// Get returns one request, or ErrNotFound.
	Get(ctx context.Context, id string) (*api.Request, error)
	// Update locks the request, applies m, stores the result (Version+1) and
	// appends m's events, all in one transaction, then notifies listeners.
	// Concurrent Updates of one request are serialised, across processes.
	Update(ctx context.Context, id string, m Mutation) (*api.Request, error)
	// List returns requests newest first, and a cursor for the next page.
	List(ctx context.Context, f Filter) ([]api.Request, string, error)
	// Due returns the ids of pending requests whose PendingUntil is not after
	// now and of approved/active grants whose EndsAt is not after now.
	Due(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// AuditLog is the hash-chained audit log.
type AuditLog interface {
	// Append writes audit events that concern no stored change (a vend, a
	// failed authorisation, a policy load).
	Append(ctx context.Context, events ...audit.Event) error
	// Audit returns events in sequence order.
	Audit(ctx context.Context, f AuditFilter) ([]api.AuditEvent, error)
}

// Coordination is how processes on one store hear of changes and take
// turns: change notifications, the sweeper lease, named leases and locks.
type Coordination interface {
	// Listen calls fn with the id of every request changed by any process on
	// this store, until ctx ends. Delivery is best effort and may repeat.
	Listen(ctx context.Context, fn func(id string)) error
	// TryLead runs fn only if no other process holds the sweeper lease; it
	// returns false without running fn otherwise.
	TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error)
	// TryLease takes or renews the named lease for holder until now+ttl and
	// reports whether holder has it; another holder's unexpired lease wins.
	// Unlike TryLead it outlives a connection, so a holder renews it.
	TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease ends holder's lease on name (nothing if another holds it).
	ReleaseLease(ctx context.Context, name, holder string) error
	// WithLock runs fn while holding the lock named key, exclusive across
	// every process on this store (PostgreSQL: a session advisory lock; SQLite,
	// single-node: a mutex in this process). It waits for the lock until ctx
	// ends. Revocation serialises its read-modify-write of a role's inline
	// policy with it, keyed on the role ARN.
	WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error
}

// DeliveryCursors are the notification sinks' positions in the audit log
// (pkg/notify: the audit log is its outbox).
type DeliveryCursors interface {
	// DeliveryCursor returns the seq of the last audit event delivered to a
	// sink. A sink seen for the first time starts at the log's head: it is
	// told of events from then on, not of the whole history.
	DeliveryCursor(ctx context.Context, sink string) (int64, error)
	// SetDeliveryCursor moves a sink's cursor to seq; it never moves back,
	// so a late writer cannot make a sink deliver twice.
	SetDeliveryCursor(ctx context.Context, sink string, seq int64) error
}

// SlackMessages remembers where each request's Slack message was posted.
type SlackMessages interface {
	// SlackMessage returns where a request's Slack message was posted, or
	// ErrNotFound.
	SlackMessage(ctx context.Context, requestID string) (channel, ts string, err error)
	// SetSlackMessage records where a request's Slack message was posted.
	SetSlackMessage(ctx context.Context, requestID, channel, ts string) error
}

// ReplayKeys is a one-time-use check shared by every process on the store.
type ReplayKeys interface {
	// FirstUse records key until expires and reports whether it was unseen
	// (or its earlier record had expired at now): a one-time-use check that
	// holds across every process on the store (Slack replay keys). Expired
	// keys are pruned as it goes.
	FirstUse(ctx context.Context, key string, expires, now time.Time) (bool, error)
}

// SlackLink binds a Slack account (workspace and user id) to the IdP
// principal that signed in to link it (`jit link slack CODE`). Requests
// made from that Slack account are that principal's.
type SlackLink struct {
	TeamID string
	UserID string
	// User is the principal and its attributes (username, verified email,
	// groups) as the sign-in that linked it verified them.
	User     api.User
	LinkedAt time.Time
}

// SlackLinkCode is a one-time code `/jit link` gave a Slack user; only its
// hash is kept.
type SlackLinkCode struct {
	Hash   string
	TeamID string
	UserID string
	// SlackEmail is the Slack account's confirmed email when Slack told it
	// ("" otherwise): the code is refused to a principal with another
	// verified email.
	SlackEmail string
	Expires    time.Time
}

// SlackLinks keeps the Slack account links and their one-time codes.
type SlackLinks interface {
	// AddSlackLinkCode stores a code, pruning codes expired at now.
	AddSlackLinkCode(ctx context.Context, c SlackLinkCode, now time.Time) error
	// RedeemSlackLinkCode takes the code with hash (ErrNotFound when it is
	// unknown or already used) and, in one transaction, stores the link
	// bind returns (replacing the Slack account's earlier link) with bind's
	// audit events and deletes the code. When bind fails nothing changes.
	RedeemSlackLinkCode(ctx context.Context, hash string,
		bind func(c SlackLinkCode) (SlackLink, []audit.Event, error)) error
	// SlackLink returns a Slack account's link, or ErrNotFound.
	SlackLink(ctx context.Context, teamID, userID string) (SlackLink, error)
	// SlackLinksOf returns the Slack accounts linked to a principal.
	SlackLinksOf(ctx context.Context, issuer, subject string) ([]SlackLink, error)
	// DeleteSlackLink removes a Slack account's link with the audit events
	// events returns for it, in one transaction; ErrNotFound when there is
	// none.
	DeleteSlackLink(ctx context.Context, teamID, userID string, events func(l SlackLink) []audit.Event) error
}

// Store is everything jit keeps: every implementation has every part
// (storetest runs the suite of each part on each implementation).
type Store interface {
	Requests
	AuditLog
	// TreeReader reads the audit log's Merkle tree (tree.go).
	TreeReader
	Coordination
	DeliveryCursors
	SlackMessages
	SlackLinks
	ReplayKeys
	// ActivityStore keeps what grants did with their credentials (activity.go).
	ActivityStore
	// Ping checks the database is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
