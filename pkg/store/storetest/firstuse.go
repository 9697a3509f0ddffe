package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/store"
)

// testFirstUse: a key is first once until it expires; concurrent claims of
// one key have exactly one winner; an expired key may be used again.
func testFirstUse(t *testing.T, s store.Store) {
	c := ctx(t)
	exp := t0.Add(5 * time.Minute)
	for i, want := range []bool{true, false, false} {
		got, err := s.FirstUse(c, "k1", exp, t0.Add(time.Duration(i)*time.Minute))
		if err != nil || got != want {
			t.Fatalf("FirstUse #%d = %v, %v; want %v", i+1, got, err, want)
		}
	}
	if got, err := s.FirstUse(c, "k2", exp, t0); err != nil || !got {
		t.Fatalf("another key: %v, %v", got, err)
	}
	// At expiry the key is pruned and may be used again.
	if got, err := s.FirstUse(c, "k1", exp.Add(5*time.Minute), exp); err != nil || !got {
		t.Fatalf("after expiry: %v, %v; want first again", got, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.FirstUse(c, "race", exp, t0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims won, want 1", wins.Load())
	}
}
