package sqlite

import (
	"context"
	"fmt"
	"sync"
)

// local is SQLite's sqlstore.Coordinator: the store serves one process, so
// changes are fanned out in memory after each commit, the sweeper lease is a
// mutex and WithLock's locks are in-process.
type local struct {
	lead sync.Mutex // the sweeper lease

	kmu   sync.Mutex               // guards keyed
	keyed map[string]chan struct{} // WithLock: one token per held key

	lmu       sync.Mutex
	listeners map[int]*listener
	nextL     int
	closed    chan struct{} // closed by close: ends every Listen
	closeOnce sync.Once
}

func newLocal() *local {
	return &local{keyed: map[string]chan struct{}{}, listeners: map[int]*listener{}, closed: make(chan struct{})}
}

func (l *local) close() { l.closeOnce.Do(func() { close(l.closed) }) }

// listener is one Listen call's queue: a set of changed ids (so a slow
// listener costs memory per distinct id, never blocks a writer, and loses
// nothing) and a wake-up signal.
type listener struct {
	mu      sync.Mutex
	pending map[string]struct{}
	order   []string
	wake    chan struct{}
}

func (l *listener) add(ids []string) {
	l.mu.Lock()
	for _, id := range ids {
		if _, ok := l.pending[id]; !ok {
			l.pending[id] = struct{}{}
			l.order = append(l.order, id)
		}
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

// Listen implements sqlstore.Coordinator. fn runs on Listen's goroutine,
// never the writer's. It returns nil when ctx ends or the store is closed.
func (c *local) Listen(ctx context.Context, fn func(id string)) error {
	l := &listener{pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
	c.lmu.Lock()
	k := c.nextL
	c.nextL++
	c.listeners[k] = l
	c.lmu.Unlock()
	defer func() {
		c.lmu.Lock()
		delete(c.listeners, k)
		c.lmu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.closed:
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

// notify tells every listener of ids (after their commit).
func (c *local) notify(ids []string) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	for _, l := range c.listeners {
		l.add(ids)
	}
}

// TryLead implements sqlstore.Coordinator: one process per file, so the
// lease is a mutex that keeps two sweeps from overlapping.
func (c *local) TryLead(ctx context.Context, fn func(ctx context.Context) error) (bool, error) {
	if !c.lead.TryLock() {
		return false, nil
	}
	defer c.lead.Unlock()
	return true, fn(ctx)
}

// WithLock implements sqlstore.Coordinator: SQLite serves one node, so a
// lock in this process is exclusive enough. Waiting ends with ctx.
func (c *local) WithLock(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	c.kmu.Lock()
	ch, ok := c.keyed[key]
	if !ok {
		ch = make(chan struct{}, 1)
		c.keyed[key] = ch
	}
	c.kmu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("lock %s: %w", key, ctx.Err())
	}
	defer func() { <-ch }()
	return fn(ctx)
}
