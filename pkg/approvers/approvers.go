// Package approvers answers who may approve beyond the names a policy lists:
// a requester's manager (from a token claim, the directory's manager
// attribute, or a static map). Every source failure is an *Error that says
// which source failed and what to check; the grants service audits it and
// fails closed, so a source that cannot answer never means "nobody may
// approve" in silence, nor "anyone may".
package approvers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// Kinds of manager source (managers.source in the server config).
const (
	SourceClaim  = "claim"
	SourceLDAP   = "ldap"
	SourceStatic = "static"
)

// Error is a source that could not answer, with what to check next.
type Error struct {
	// Source is the source's kind ("ldap", "claim", "static").
	Source string
	// Op says what was asked ("find the manager of alice@example.com").
	Op   string
	Err  error
	Hint string
}

func (e *Error) Error() string {
	s := e.Source + ": " + e.Op + ": " + e.Err.Error()
	if e.Hint != "" {
		s += " (Try: " + e.Hint + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoManager says the source answered and names no manager for the
// person: an answer, not an outage.
var ErrNoManager = errors.New("no manager on record")

// Managers names a person's manager: the manager's verified username or
// email, which the policy compares with an approver's.
type Managers interface {
	// Manager returns u's manager, ErrNoManager (wrapped in *Error) when
	// the source has none, or an *Error when it cannot answer.
	Manager(ctx context.Context, u api.User) (string, error)
	// Kind is the source's kind, for audit records and explanations.
	Kind() string
}

// personKey is how a source looks a person up: the verified username,
// else the verified email.
func personKey(u api.User) (string, error) {
	switch {
	case u.IsWorkload():
		return "", errors.New("a workload has no manager")
	case u.Username != "":
		return u.Username, nil
	case u.Email != "":
		return u.Email, nil
	}
	return "", errors.New("the token has no verified username or email to look the person up by")
}

// Claim takes the manager from the claim the operator named
// (managers.claim), which the token verifier copied to api.User.ManagerClaim.
type Claim struct {
	// Name is the claim's name, for messages.
	Name string
}

// Kind implements Managers.
func (Claim) Kind() string { return SourceClaim }

// Manager implements Managers.
func (c Claim) Manager(_ context.Context, u api.User) (string, error) {
	who, err := personKey(u)
	if err != nil {
		return "", &Error{Source: SourceClaim, Op: "find the manager", Err: err}
	}
	m := strings.TrimSpace(u.ManagerClaim)
	if m == "" {
		return "", &Error{Source: SourceClaim, Op: "find the manager of " + who,
			Err:  fmt.Errorf("%w: the token has no %q claim", ErrNoManager, c.Name),
			Hint: fmt.Sprintf("ask the IdP admin to release the %q claim (Okta: a profile attribute mapped into the ID token; Entra: an optional or directory-extension claim)", c.Name)}
	}
	return m, nil
}

// Static is a fixed map from a person (verified username or email) to
// their manager (managers.static).
type Static map[string]string

// Kind implements Managers.
func (Static) Kind() string { return SourceStatic }

// Manager implements Managers.
func (s Static) Manager(_ context.Context, u api.User) (string, error) {
	who, err := personKey(u)
	if err != nil {
		return "", &Error{Source: SourceStatic, Op: "find the manager", Err: err}
	}
	for k, v := range s {
		if api.SameName(k, who) || (u.Email != "" && strings.EqualFold(k, u.Email)) {
			return v, nil
		}
	}
	return "", &Error{Source: SourceStatic, Op: "find the manager of " + who, Err: ErrNoManager,
		Hint: "add the person to managers.static in the server config"}
}

// Cached remembers a source's answers for TTL (misses and failures are
// not remembered, so a fixed directory answers at the next ask). Times
// come from Now.
type Cached struct {
	Source Managers
	TTL    time.Duration
	Now    func() time.Time

	mu      sync.Mutex
	answers map[string]cachedManager
}

type cachedManager struct {
	manager string
	until   time.Time
}

// Kind implements Managers.
func (c *Cached) Kind() string { return c.Source.Kind() }

// Manager implements Managers.
func (c *Cached) Manager(ctx context.Context, u api.User) (string, error) {
	key := u.Principal().String()
	now := c.Now()
	c.mu.Lock()
	a, ok := c.answers[key]
	c.mu.Unlock()
	if ok && now.Before(a.until) {
		return a.manager, nil
	}
	m, err := c.Source.Manager(ctx, u)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.answers == nil {
		c.answers = map[string]cachedManager{}
	}
	for k, old := range c.answers { // drop what has gone stale
		if !now.Before(old.until) {
			delete(c.answers, k)
		}
	}
	c.answers[key] = cachedManager{manager: m, until: now.Add(c.TTL)}
	c.mu.Unlock()
	return m, nil
}
