package approvers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// flaky is a manager source that fails until told otherwise, counting asks.
type flaky struct {
	asks int
	err  error
	name string
}

func (f *flaky) Kind() string { return "test" }
func (f *flaky) Manager(context.Context, api.User) (string, error) {
	f.asks++
	return f.name, f.err
}

func TestCacheKeepsAnswersForTheirTTLButNeverAFailure(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	src := &flaky{err: &Error{Source: "test", Op: "find", Err: errors.New("down")}}
	c := &Cached{Source: src, TTL: time.Minute, Now: func() time.Time { return now }}
	u := api.User{Issuer: "i", Subject: "dana", Username: "dana@example.com"}
	if _, err := c.Manager(t.Context(), u); err == nil {
		t.Fatal("a failing source answered")
	}
	src.err, src.name = nil, "max@example.com"
	if m, err := c.Manager(t.Context(), u); err != nil || m != "max@example.com" || src.asks != 2 {
		t.Fatalf("after a failure the source is asked again: %q, %v, %d asks", m, err, src.asks)
	}
	src.name = "kim@example.com"
	now = now.Add(59 * time.Second)
	if m, _ := c.Manager(t.Context(), u); m != "max@example.com" || src.asks != 2 {
		t.Fatalf("within the TTL: %q after %d asks", m, src.asks)
	}
	now = now.Add(time.Second)
	if m, _ := c.Manager(t.Context(), u); m != "kim@example.com" || src.asks != 3 {
		t.Fatalf("at the TTL the source is asked again: %q after %d asks", m, src.asks)
	}
}

func TestStaticAndClaimSourcesSayWhatIsMissing(t *testing.T) {
	u := api.User{Issuer: "i", Subject: "dana", Username: "Dana@Example.com"}
	if m, err := (Static{"dana@example.com": "max@example.com"}).Manager(t.Context(), u); err != nil || m != "max@example.com" {
		t.Fatalf("static, names ignoring case: %q, %v", m, err)
	}
	if _, err := (Static{}).Manager(t.Context(), u); !errors.Is(err, ErrNoManager) {
		t.Fatalf("static without the person: %v", err)
	}
	if _, err := (Claim{Name: "manager"}).Manager(t.Context(), u); !errors.Is(err, ErrNoManager) || !errors.As(err, new(*Error)) {
		t.Fatalf("a token without the claim: %v", err)
	}
	wl := api.User{Subject: "repo:x", Kind: api.KindWorkload, ManagerClaim: "max@example.com"}
	if _, err := (Claim{Name: "manager"}).Manager(t.Context(), wl); err == nil {
		t.Fatal("a workload got a manager")
	}
}
