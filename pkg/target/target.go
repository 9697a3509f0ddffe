// Package target is what the grants service (pkg/grants) asks of each kind
// of access a policy role can grant: an assumed AWS IAM role
// (pkg/target/awsrole) and a directory group's membership
// (pkg/target/ldapgroup); an Identity Center permission set or a database
// login next. Each kind is one implementation of Target; the
// service picks it from a Registry by the role's kind (policy roles[].kind),
// so a new kind is a new implementation, never a new branch in the service
// or the doors.
//
// A target grants and ends access and says how long issued access can
// outlive an early end; it never decides who may do what (the policy) and
// never writes request state (the service). The service calls Start after a
// grant's start is stored and End after its end is stored, so a crash in
// between leaves a stored grant whose target side is missing or left over:
// a target that creates something (an assignment, a login) implements
// Reconciler so that a start can list what jit created and compare.
package target

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/policy"
)

// Grant is the grant a target acts on, as stored, with its role.
type Grant struct {
	Request *api.Request
	Role    *policy.Role
	// By is who acts, as shown to people (api.User.ID): the requester
	// fetching credentials, the revoker, "server".
	By string
	// User is who acts, when a person or workload does (fetching
	// credentials): a target may tag what it issues with it.
	User api.User
}

// Issued says what a target did when a grant started: ID names what it
// created (an account assignment, a login) for the audit log and for
// reconciliation; empty when nothing was created (an IAM role, whose access
// is credentials on demand).
type Issued struct {
	ID     string
	Detail map[string]string
}

// Ended says what a target did when a grant ended.
type Ended struct {
	// Done: the target acted (the service audits it with Detail); false:
	// there was nothing to stop (no credentials were ever issued, or the
	// kind's access stops at the grant's end by itself).
	Done   bool
	Detail map[string]string
	// AccessUntil is the latest time issued access may still work after
	// this end (propagation delays, sessions the kind cannot cut off).
	AccessUntil time.Time
}

// Target grants and ends one kind of access. Implementations are safe for
// concurrent use.
type Target interface {
	// Kind is the policy's name of this kind (policy.KindAWSRole, …).
	Kind() string
	// Start grants access when a grant begins (approval, auto-approval,
	// break-glass). For a kind whose access is credentials on demand it
	// does nothing.
	Start(ctx context.Context, g Grant, now time.Time) (Issued, error)
	// End ends access: early (a revoke, an idle end) or at the grant's
	// end (expiry). It returns once issued access is stopped or the
	// target has done what it can; an error means access may go on until
	// Ended.AccessUntil would have said, and the grant's end still stands.
	End(ctx context.Context, g Grant, early bool, now time.Time) (Ended, error)
	// AccessUntil is how long access already issued for g can outlive an
	// end at endedAt, when End is not (or cannot be) enforced at the target.
	AccessUntil(g Grant, endedAt time.Time) time.Time
	// Check checks the configuration of the policy's roles of this kind,
	// at start and on every reload: a refused check keeps the server from
	// starting, or the old policy running.
	Check(ctx context.Context, roles []*policy.Role) error
}

// Issuer is a Target whose access is credentials handed out on demand,
// within a live grant (an IAM role's STS session, a database password).
type Issuer interface {
	Target
	Credentials(ctx context.Context, g Grant, now time.Time) (Credentials, error)
}

// Reconciler is a Target that can list what jit created at it, so that a
// start finds a grant created at the target but not recorded (or ended in
// the store but not at the target) after a crash. The service
// (grants.Service.Reconcile) removes what no live grant owns and starts
// again the live grants a target does not list.
type Reconciler interface {
	Target
	// Created lists what jit created at the target for the roles of the
	// last Check.
	Created(ctx context.Context) ([]Created, error)
	// Remove ends c, which no live grant owns.
	Remove(ctx context.Context, c Created, now time.Time) (Ended, error)
}

// Created is one thing jit created at a target.
type Created struct {
	RequestID string
	// ID names what was created (as Issued.ID: a member's DN, a login).
	ID string
	// At is where it is (a group's DN), when the kind needs it to Remove.
	At string
}

// Credentials are what an Issuer handed out. Exactly one of the kind
// fields is set. String and LogValue never show a secret.
type Credentials struct {
	// ID identifies the credentials (not a secret): the audit log records
	// it and activity is matched on it (an AWS access key id).
	ID string
	// Expires is when the issuing side ends them (STS's expiry), which
	// may be after the grant's end (a session policy stops them then).
	Expires time.Time
	// AWS is set for AWS credentials.
	AWS *AWSKeys
}

// AWSKeys are an STS session's keys.
type AWSKeys struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// String never shows the secret parts.
func (c Credentials) String() string {
	return fmt.Sprintf("credentials{id=%s expires=%s}", c.ID, c.Expires.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the secret parts too.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps secrets out of structured logs.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", c.ID), slog.Time("expires", c.Expires))
}

// Registry maps each kind to its target.
type Registry struct {
	byKind map[string]Target
}

// NewRegistry holds ts, one per kind.
func NewRegistry(ts ...Target) (*Registry, error) {
	r := &Registry{byKind: map[string]Target{}}
	for _, t := range ts {
		if _, dup := r.byKind[t.Kind()]; dup {
			return nil, fmt.Errorf("target: kind %q registered twice", t.Kind())
		}
		r.byKind[t.Kind()] = t
	}
	return r, nil
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	var out []string
	for k := range r.byKind {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// All lists the registered targets, by kind.
func (r *Registry) All() []Target {
	var out []Target
	for _, k := range r.Kinds() {
		out = append(out, r.byKind[k])
	}
	return out
}

// For returns the target of role's kind.
func (r *Registry) For(role *policy.Role) (Target, error) {
	if t, ok := r.byKind[role.TargetKind()]; ok {
		return t, nil
	}
	return nil, &NoTargetError{Role: role.Name, Kind: role.TargetKind(), Known: r.Kinds()}
}

// Check runs every target's Check on the policy's roles of its kind, and
// refuses a role whose kind this server has no target for.
func (r *Registry) Check(ctx context.Context, p *policy.Policy) error {
	byKind := map[string][]*policy.Role{}
	for _, role := range p.Roles {
		if _, err := r.For(role); err != nil {
			return err
		}
		byKind[role.TargetKind()] = append(byKind[role.TargetKind()], role)
	}
	for _, k := range r.Kinds() {
		if roles := byKind[k]; len(roles) > 0 {
			if err := r.byKind[k].Check(ctx, roles); err != nil {
				return err
			}
		}
	}
	return nil
}

// NoTargetError says that a role's kind has no target in this server.
type NoTargetError struct {
	Role, Kind string
	Known      []string
}

func (e *NoTargetError) Error() string {
	return fmt.Sprintf("role %s is of kind %q, which this server cannot grant (it has: %s)", e.Role, e.Kind, strings.Join(e.Known, ", "))
}
