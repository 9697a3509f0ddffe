package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// This file is the write path: operations queue up and one goroutine runs
// them in batches, one transaction each, appending their audit events to
// the hash chain and its tree.

// op is one caller's write: fn's changes and the events it returns, chained
// after the events of the ops before it.
type op struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error)
	err  error
	done bool // set under Store.mu once err is final
}

// run calls fn. A panic becomes this op's error: it runs on whichever
// caller's goroutine leads the batch, and must neither take that caller down
// nor leave the writer's transaction open.
func (o *op) run(ctx context.Context, tx *sql.Tx) (events []audit.Event, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return o.fn(ctx, tx)
}

// maxBatch bounds how many ops share one transaction.
const maxBatch = 64

// inTx runs fn in a write transaction, chaining the events it returns after
// it; the chain head moves only if the transaction commits.
//
// Writes are group-committed: a caller queues its op, then whoever holds the
// writer lock runs every queued op in one transaction, each inside its own
// savepoint, so one op's error undoes only that op. A commit costs a WAL
// append of every page it dirtied; concurrent ops share the hot pages (the
// tables' and indexes' last leaves) and the commit itself.
//
// ctx is honoured until the op starts. Inside the transaction statements run
// detached from cancellation: they take microseconds under the writer lock,
// and interrupting one halfway would only cost a goroutine per statement (the
// driver's interrupt watcher) and risk a commit whose outcome is unknown.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) ([]audit.Event, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{ctx: ctx, fn: fn}
	s.group.Run(o, func() bool { return o.done }, s.runBatch)
	return o.err
}

// runBatch runs ops in one transaction and sets each op's outcome. Called
// under the group commit lock.
func (s *Store) runBatch(ops []*op) {
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		finish(err, ops...)
		return
	}
	single := len(ops) == 1 // no savepoint needed: the transaction is the op
	exec := func(q string) error { _, err := tx.ExecContext(ctx, q); return err }
	seq, hash := s.headSeq, s.headHash
	tree := store.NewTreeAppender(seq, func(idx []int64) ([]tlog.Hash, error) { return readHashes(ctx, tx, idx) })
	tree.Seed(s.frontier)
	var ok []*op
	for i, o := range ops {
		if err := o.ctx.Err(); err != nil {
			finish(err, o)
			continue
		}
		if !single {
			if err := exec("SAVEPOINT op"); err != nil {
				tx.Rollback()
				finish(err, ops[i:]...)
				finish(err, ok...)
				return
			}
		}
		events, err := o.run(ctx, tx)
		var nseq int64
		var nhash string
		tsize, tadded := tree.Mark()
		if err == nil {
			nseq, nhash, err = s.appendEvents(ctx, tx, seq, hash, events, tree)
		}
		if err != nil {
			tree.Rewind(tsize, tadded)
			finish(err, o)
			if single {
				tx.Rollback()
				return
			}
			if rerr := errors.Join(exec("ROLLBACK TO op"), exec("RELEASE op")); rerr != nil {
				tx.Rollback()
				finish(rerr, ops[i+1:]...)
				finish(rerr, ok...)
				return
			}
			continue
		}
		if !single {
			if err := exec("RELEASE op"); err != nil {
				tx.Rollback()
				finish(err, ops[i:]...)
				finish(err, ok...)
				return
			}
		}
		seq, hash = nseq, nhash
		ok = append(ok, o)
	}
	if len(ok) == 0 {
		tx.Rollback()
		return
	}
	s.commitBatch(ctx, tx, tree, seq, hash, ok)
}

// finish marks ops done, with err when it is not nil.
func finish(err error, ops ...*op) {
	for _, o := range ops {
		if err != nil {
			o.err = err
		}
		o.done = true
	}
}

// commitBatch writes the tree's new nodes and commits the batch's ok
// operations, then moves the chain head to seq and hash.
func (s *Store) commitBatch(ctx context.Context, tx *sql.Tx, tree *store.TreeAppender, seq int64, hash string, ok []*op) {
	frontier, ferr := tree.Frontier()
	if ferr == nil {
		ferr = insertTree(ctx, tx, tree.Added)
	}
	if ferr != nil {
		tx.Rollback()
		finish(ferr, ok...)
		return
	}
	if err := tx.Commit(); err != nil {
		// Whether the commit landed is unknown: read the head back, so the
		// next append neither forks the chain nor reuses a seq.
		finish(errors.Join(err, s.loadHead(ctx)), ok...)
		return
	}
	s.headSeq, s.headHash, s.frontier = seq, hash, frontier
	finish(nil, ok...)
}

func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, seq int64, prev string, events []audit.Event, tree *store.TreeAppender) (int64, string, error) {
	if len(events) == 0 {
		return seq, prev, nil
	}
	ins := tx.StmtContext(ctx, s.stmtInsertAudit)
	for _, ev := range events {
		seq++
		if ev.Time.IsZero() {
			ev.Time = s.now()
		}
		e := api.AuditEvent{Seq: seq, Time: ev.Time.UTC().Round(0), Type: ev.Type, Actor: ev.Actor, Subject: ev.Subject, Role: ev.Role,
			RequestID: ev.RequestID, Reason: ev.Reason, Detail: ev.Detail, PrevHash: prev}
		e.Hash = audit.Hash(e)
		body, err := audit.RecordBytes(e)
		if err != nil {
			return 0, "", err
		}
		if _, err := ins.ExecContext(ctx, e.Seq, e.Time.UnixNano(), e.Type, e.Actor, e.Subject, e.Role, e.RequestID, string(body)); err != nil {
			return 0, "", fmt.Errorf("append audit: %w", err)
		}
		// The tree's rows are written once per batch (runBatch), for the
		// operations that stayed.
		if err := tree.Append(body); err != nil {
			return 0, "", err
		}
		prev = e.Hash
	}
	return seq, prev, nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
