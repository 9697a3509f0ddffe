package credcache

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGetCredentials measures the cached credential_process path: one
// GetCredentials by known key on each backend.
func BenchmarkGetCredentials(b *testing.B) {
	t0 := time.Now()
	now := func() time.Time { return t0 }
	for _, bc := range []struct {
		name string
		open func(b *testing.B) *Cache
	}{
		{"keyctl", func(b *testing.B) *Cache { return openKeyctl(b, now) }},
		{"file", func(b *testing.B) *Cache { return openFile(b, b.TempDir(), now) }},
		{"secret-service", func(b *testing.B) *Cache { requireSecretService(b); return openSecretService(b, now) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := bc.open(b)
			ctx := context.Background()
			if err := c.PutCredentials(ctx, serverA, "admin", credsFor("admin", t0.Add(time.Hour))); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, ok, err := c.GetCredentials(ctx, serverA, "admin"); !ok || err != nil {
					b.Fatalf("ok=%v err=%v", ok, err)
				}
			}
		})
	}
}
