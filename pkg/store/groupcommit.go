package store

import "sync"

// GroupCommit is the SQL store's write queue: a caller queues its operation,
// then whoever holds the commit lock runs what is queued, up to Max at a
// time, as one batch (one transaction), until the caller's own operation is
// done. So concurrent writers share commits instead of each waiting for its
// own. Run's done must read what run sets; both happen under the commit lock.
type GroupCommit[T any] struct {
	// Max bounds how many operations share one batch (at least 1).
	Max int

	commit sync.Mutex // held by the goroutine running batches
	qmu    sync.Mutex // guards queue
	queue  []T
}

// Run queues o and runs batches through run until done reports o finished.
func (g *GroupCommit[T]) Run(o T, done func() bool, run func(batch []T)) {
	g.qmu.Lock()
	g.queue = append(g.queue, o)
	g.qmu.Unlock()
	g.commit.Lock()
	defer g.commit.Unlock()
	for !done() {
		g.qmu.Lock()
		n := min(len(g.queue), max(g.Max, 1))
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.qmu.Unlock()
		run(batch)
	}
}

// Exclusive runs fn holding the commit lock: no batch runs meanwhile, so fn
// may run one of its own (a bulk load through the same write path).
func (g *GroupCommit[T]) Exclusive(fn func()) {
	g.commit.Lock()
	defer g.commit.Unlock()
	fn()
}
