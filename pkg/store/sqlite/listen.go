package sqlite

import (
	"context"
	"sync"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// This file wakes Listen's callbacks when a request changes in this process.

// listener is one Listen call's queue: a set of changed ids (so a slow
// listener costs memory per distinct id, never blocks a writer, and loses
// nothing) and a wake-up signal.
type listener struct {
	mu      sync.Mutex
	pending map[string]struct{}
	order   []string
	wake    chan struct{}
}

func (l *listener) add(id string) {
	l.mu.Lock()
	if _, ok := l.pending[id]; !ok {
		l.pending[id] = struct{}{}
		l.order = append(l.order, id)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *listener) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.order
	l.order = nil
	clear(l.pending)
	return ids
}

// Listen implements store.Store: one process per file, so changes are fanned
// out in memory after each commit. fn runs on Listen's goroutine, never the
// writer's. It returns nil when ctx ends or the store is closed.
func (s *Store) Listen(ctx context.Context, fn func(id string)) error {
	l := &listener{pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
	s.lmu.Lock()
	k := s.nextL
	s.nextL++
	s.listeners[k] = l
	s.lmu.Unlock()
	defer func() {
		s.lmu.Lock()
		delete(s.listeners, k)
		s.lmu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.closed:
			return nil
		case <-l.wake:
			for _, id := range l.take() {
				if ctx.Err() != nil {
					return nil
				}
				fn(id)
			}
		}
	}
}

func (s *Store) notify(id string) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	for _, l := range s.listeners {
		l.add(id)
	}
}
