package storetest

// Coordinating servers: notifications (Listen), leadership (TryLead)
// and named locks (WithLock).

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

func testListen(t *testing.T, s store.Store) {
	mustCreate(t, s, NewRequest("r1", "alice", "dev", t0))
	lctx, cancel := context.WithCancel(ctx(t))
	heard := make(chan string, 1000)
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(lctx, func(id string) {
			select {
			case heard <- id:
			default:
			}
		})
	}()
	// Listen gives no signal when it is subscribed, so keep changing the
	// request until a change is heard (each Update is a real change).
	waitHeard(t, heard, "r1", func(i int) {
		if _, err := s.Update(ctx(t), "r1", touch(i)); err != nil {
			t.Fatal(err)
		}
	})
	// A change committed after the listener is known to be subscribed
	// arrives without repeats being needed.
	r2 := NewRequest("r2", "bob", "dev", t0)
	mustCreate(t, s, r2)
	waitHeard(t, heard, "r2", nil)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Listen ended with %v", err)
	}
}

func touch(i int) store.Mutation {
	return func(r *api.Request) ([]audit.Event, error) {
		r.VendCount = i
		return nil, nil
	}
}

// waitHeard waits for id on heard, calling poke (when not nil) before each
// wait of a short retry tick. It fails after a generous deadline: that is a
// hang guard, not a timing assertion.
func waitHeard(t *testing.T, heard <-chan string, id string, poke func(i int)) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if poke != nil {
			poke(i)
		}
		for {
			select {
			case got := <-heard:
				if got == id {
					return
				}
				continue
			case <-tick.C:
			case <-deadline.C:
				t.Fatalf("Listen never delivered %s", id)
			}
			break
		}
	}
}

func testTryLead(t *testing.T, s store.Store) {
	ran := false
	ok, err := s.TryLead(ctx(t), func(ctx context.Context) error {
		ran = true
		inner, err := s.TryLead(ctx, func(context.Context) error {
			t.Error("a second leader ran while the first held the lease")
			return nil
		})
		if err != nil {
			return err
		}
		if inner {
			t.Error("TryLead succeeded while the lease was held")
		}
		return nil
	})
	if err != nil || !ok || !ran {
		t.Fatalf("TryLead = %v, %v (ran %v)", ok, err, ran)
	}
	// The lease is released afterwards, and fn's error comes back.
	boom := errors.New("sweep failed")
	ok, err = s.TryLead(ctx(t), func(context.Context) error { return boom })
	if !ok || !errors.Is(err, boom) {
		t.Fatalf("TryLead after release = %v, %v; want true and fn's error", ok, err)
	}
	ok, err = s.TryLead(ctx(t), func(context.Context) error { return nil })
	if !ok || err != nil {
		t.Fatalf("TryLead after a failed fn = %v, %v", ok, err)
	}
}

// testWithLock: holders of one key never overlap; another key is not held up.
func testWithLock(t *testing.T, s store.Store) {
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := s.WithLock(ctx(t), "arn:aws:iam::111122223333:role/a", func(context.Context) error {
				mu.Lock()
				inside++
				maxInside = max(maxInside, inside)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // widen the window a second holder would use
				mu.Lock()
				inside--
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d holders of one key at once, want 1", maxInside)
	}
	// While one key is held, another key is free, and a waiter for the held
	// key gives up when its context ends.
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.WithLock(ctx(t), "k1", func(context.Context) error { close(held); <-release; return nil })
	}()
	<-held
	if err := s.WithLock(ctx(t), "k2", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("other key: %v", err)
	}
	short, cancel := context.WithTimeout(ctx(t), 50*time.Millisecond)
	defer cancel()
	if err := s.WithLock(short, "k1", func(context.Context) error { t.Error("ran while k1 was held"); return nil }); err == nil {
		t.Fatal("waiting for a held key ignored its context")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.WithLock(ctx(t), "k1", func(context.Context) error { return nil }); err != nil {
		t.Fatalf("k1 after release: %v", err)
	}
	want := errors.New("fn failed")
	if err := s.WithLock(ctx(t), "k1", func(context.Context) error { return want }); !errors.Is(err, want) {
		t.Fatalf("err = %v, want fn's error", err)
	}
}
