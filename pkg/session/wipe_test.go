package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

func TestWipeGrantCredentialsWipesOnlyTheStaleGrantsItem(t *testing.T) {
	now := t0
	s, cache := newSession(t, &now)
	ctx := context.Background()
	c := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: t0.Add(time.Hour), STSExpiration: t0.Add(time.Hour), GrantEndsAt: t0.Add(time.Hour)}
	if err := cache.PutCredentials(ctx, s.Server, "prod", c); err != nil {
		t.Fatal(err)
	}
	var asked []string
	wiped, err := s.WipeGrantCredentials(ctx, "prod", func(id string) bool { asked = append(asked, id); return id == "req_2" })
	if wiped || err != nil {
		t.Fatalf("another grant's item: wiped=%v err=%v", wiped, err)
	}
	if len(asked) != 1 || asked[0] != "req_1" {
		t.Fatalf("stale was asked about %q, want the cached item's grant req_1", asked)
	}
	if _, ok, _ := cache.GetCredentials(ctx, s.Server, "prod"); !ok {
		t.Fatal("a live grant's item was wiped")
	}
	if wiped, err := s.WipeGrantCredentials(ctx, "prod", func(id string) bool { return id == "req_1" }); !wiped || err != nil {
		t.Fatalf("the stale grant's item: wiped=%v err=%v", wiped, err)
	}
	if _, ok, _ := cache.GetCredentials(ctx, s.Server, "prod"); ok {
		t.Fatal("the stale grant's item is still cached")
	}
	if wiped, err := s.WipeGrantCredentials(ctx, "prod", func(string) bool { return true }); wiped || err != nil {
		t.Fatalf("nothing cached: wiped=%v err=%v", wiped, err)
	}
}

// unreadableCache fails every credentials read and records deletes; the
// token methods come from the embedded Cache and are never called.
type unreadableCache struct {
	Cache
	deleted []string
}

func (u *unreadableCache) GetCredentials(context.Context, string, string) (api.Credentials, bool, error) {
	return api.Credentials{}, false, errors.New("keyring: item is corrupt")
}
func (u *unreadableCache) PutCredentials(context.Context, string, string, api.Credentials) error {
	return nil
}
func (u *unreadableCache) DeleteCredentials(_ context.Context, _, role string) error {
	u.deleted = append(u.deleted, role)
	return nil
}

func TestWipeGrantCredentialsWipesAnUnreadableItem(t *testing.T) {
	u := &unreadableCache{}
	s := &Session{Server: "https://jit.example", Cache: u, Now: func() time.Time { return t0 }}
	wiped, err := s.WipeGrantCredentials(context.Background(), "prod", func(string) bool { return false })
	if !wiped || err != nil || len(u.deleted) != 1 || u.deleted[0] != "prod" {
		t.Fatalf("wiped=%v err=%v deleted=%v; an item that cannot be read cannot be shown to be a live grant's", wiped, err, u.deleted)
	}
}
