package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// The write path, the only one. Writers queue their operation and one of
// them, the committer, runs every queued operation in one transaction:
//
//  1. it takes the dialect's write lock, reads the chain head (unless a
//     single writer keeps it in memory) and the rows the batch updates,
//     in one round trip;
//  2. it applies the mutations in Go, chains their records and computes
//     the tree hashes they add (one more read of the tree's frontier when
//     it is not in memory);
//  3. it sends every write, then commits.
//
// A batch costs one flush however many writes it holds. An operation that
// fails on its own (unknown id, a mutation's error or panic) writes nothing
// and the others go on; when a statement of the batch fails (a duplicate id)
// the batch is rolled back and each operation retried in a batch of its own,
// so only the faulty one fails.

// batchTimeout bounds one batch's transaction; an operation's own context
// only matters until its batch starts.
const batchTimeout = 30 * time.Second

// unavailableRetry bounds how long a batch that failed for the database's
// sake (store.ErrUnavailable) before its COMMIT is tried again.
const unavailableRetry = 5 * time.Second

type opKind int

const (
	opCreate opKind = iota
	opUpdate
	opAppend
	opTx // a function of the transaction (outbox, activity)
)

// op is one caller's write waiting for (or done by) a committer.
type op struct {
	ctx    context.Context
	kind   opKind
	id     string
	req    *api.Request   // opCreate: the new request
	m      store.Mutation // opUpdate
	events []audit.Event  // opCreate, opAppend
	// fn runs statements of its own in the transaction and returns the
	// events to append. Its error undoes the batch (its statements may
	// have run), which is then retried one operation at a time.
	fn   func(ctx context.Context, tx Querier) ([]audit.Event, error)
	out  *api.Request // opUpdate's result
	err  error
	done bool // set under the group commit lock once out and err are final
}

// submit queues o and runs batches until o is done.
func (s *Store) submit(o *op) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	s.group.Run(o, func() bool { return o.done }, s.runBatch)
	return o.err
}

// inTx runs fn as one write of the batch.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx Querier) ([]audit.Event, error)) error {
	return s.submit(&op{ctx: ctx, kind: opTx, fn: fn})
}

// runBatch runs ops in one transaction, or each alone when the batch fails.
func (s *Store) runBatch(ops []*op) {
	var live []*op
	for _, o := range ops {
		if err := o.ctx.Err(); err != nil {
			o.err, o.done = err, true
			continue
		}
		live = append(live, o)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	start := time.Now()
	committed, err := s.tryBatch(ctx, live)
	// The database failed before COMMIT (it restarted, a connection was
	// lost): nothing was written, so the batch is tried again, on a fresh
	// connection, for a few seconds; a short restart then costs callers a
	// wait, not an error.
	for wait := 50 * time.Millisecond; err != nil && !committed && errors.Is(err, store.ErrUnavailable) &&
		time.Since(start)+wait < unavailableRetry; wait = min(2*wait, time.Second) {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		live = slices.DeleteFunc(live, func(o *op) bool {
			if err := o.ctx.Err(); err != nil {
				o.err, o.done = err, true
				return true
			}
			o.err = nil
			return false
		})
		if len(live) == 0 {
			return
		}
		committed, err = s.tryBatch(ctx, live)
	}
	switch {
	case err == nil:
	case committed || len(live) == 1 || errors.Is(err, store.ErrUnavailable):
		// A failed COMMIT has an unknown outcome: retrying could apply an
		// operation twice, so every operation of the batch reports it.
		// When the database itself failed, each operation alone would
		// only wait for it again, one after the other.
		for _, o := range live {
			if !o.done {
				o.err, o.done = err, true
			}
		}
	default:
		for _, o := range live {
			if !o.done {
				o.err = nil
				s.runBatch([]*op{o})
			}
		}
	}
}

// tryBatch runs live in one transaction. Operations that fail on their own
// are done with their error and write nothing; the others are done when the
// transaction commits. commitErr reports that the error came from COMMIT.
func (s *Store) tryBatch(ctx context.Context, live []*op) (commitErr bool, err error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // nothing after Commit

	head, bodies, err := s.lockAndRead(ctx, tx, live)
	if err != nil {
		return false, err
	}
	var writes []Stmt
	var records []api.AuditEvent
	var leaves [][]byte
	var ok, failed []*op
	var changed []string
	seq, prev := head.seq, head.hash
	for _, o := range live {
		events, id, err := s.apply(ctx, tx, o, bodies, &writes)
		if err != nil {
			if o.kind == opTx {
				return false, err
			}
			// Done only once the batch commits: the error may rest on an
			// earlier operation of this batch, which a failed batch undoes.
			o.err = err
			failed = append(failed, o)
			continue
		}
		recs, bs, err := chain(seq, prev, events, s.now)
		if err != nil {
			return false, err
		}
		if len(recs) > 0 {
			seq, prev = recs[len(recs)-1].Seq, recs[len(recs)-1].Hash
		}
		records, leaves = append(records, recs...), append(leaves, bs...)
		if id != "" {
			changed = append(changed, id)
		}
		ok = append(ok, o)
	}
	if len(ok) == 0 {
		for _, o := range failed {
			o.done = true
		}
		return false, nil
	}
	tree := store.NewTreeAppender(head.seq, func(idx []int64) ([]tlog.Hash, error) { return readHashes(ctx, tx, idx) })
	if head.frontier != nil {
		tree.Seed(head.frontier)
	}
	if len(leaves) > 0 {
		if head.frontier == nil {
			if err := tree.Prefetch(); err != nil {
				return false, err
			}
		}
		for _, b := range leaves {
			if err := tree.Append(b); err != nil {
				return false, err
			}
		}
	}
	var frontier map[int64]tlog.Hash
	if s.d.SingleWriter {
		if frontier, err = tree.Frontier(); err != nil {
			return false, err
		}
	}
	writes = append(writes, s.recordRows(records, leaves)...)
	writes = append(writes, s.treeRows(tree.Added)...)
	if s.d.Announce != nil && len(changed) > 0 {
		writes = append(writes, s.d.Announce(changed)...)
	}
	if err := tx.Send(ctx, writes); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		s.head = nil // read it back: the commit may have landed
		return true, err
	}
	if s.d.SingleWriter {
		s.head = &chainHead{seq: seq, hash: prev, frontier: frontier}
	}
	for _, o := range ok {
		o.err, o.done = nil, true
	}
	for _, o := range failed {
		o.done = true
	}
	if s.d.Committed != nil && len(changed) > 0 {
		s.d.Committed(changed)
	}
	return false, nil
}

// lockAndRead is a batch's first round trip: the write lock, the chain head
// (seq and hash; 0 and the genesis hash when the log is empty) and, locked
// for update, the bodies of the requests the batch updates.
func (s *Store) lockAndRead(ctx context.Context, tx Tx, live []*op) (chainHead, map[string][]byte, error) {
	var ids []string
	for _, o := range live {
		if o.kind == opUpdate {
			ids = append(ids, o.id)
		}
	}
	var stmts []Stmt
	if s.d.LockWrites != "" {
		stmts = append(stmts, Stmt{SQL: s.d.LockWrites})
	}
	head := chainHead{hash: audit.GenesisHash}
	cached := s.d.SingleWriter && s.head != nil
	if cached {
		head = *s.head
	}
	var last []byte
	var found bool
	if !cached {
		stmts = append(stmts, Stmt{SQL: s.sql.readHead, Scan: scanFirst(&found, &head.seq, &last)})
	}
	bodies := map[string][]byte{}
	if len(ids) > 0 {
		where, a := in("id", len(ids)), args(ids)
		if s.d.AnyArray {
			where, a = "id = ANY(?)", []any{ids}
		}
		stmts = append(stmts, Stmt{SQL: "SELECT id, body FROM requests WHERE " + where + " ORDER BY id" + s.d.ForUpdate, Args: a,
			Scan: func(rows Rows) error {
				for rows.Next() {
					var id string
					var body []byte
					if err := rows.Scan(&id, &body); err != nil {
						return err
					}
					bodies[id] = body
				}
				return rows.Err()
			}})
	}
	if len(stmts) > 0 {
		if err := tx.Send(ctx, stmts); err != nil {
			return chainHead{}, nil, err
		}
	}
	if !cached && found {
		h, err := s.headHash(last)
		if err != nil {
			return chainHead{}, nil, err
		}
		head.hash = h
	}
	return head, bodies, nil
}

// apply runs one operation against the batch's view of the rows (bodies,
// updated as the batch goes) and queues its row writes. It returns the
// events to chain and the id of the request it changed, if any. A panic is
// this operation's error.
func (s *Store) apply(ctx context.Context, tx Tx, o *op, bodies map[string][]byte, writes *[]Stmt) (events []audit.Event, changed string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	switch o.kind {
	case opAppend:
		return o.events, "", nil
	case opTx:
		events, err := o.fn(ctx, tx)
		return events, "", err
	case opCreate:
		r := o.req
		if _, dup := bodies[r.ID]; dup {
			return nil, "", fmt.Errorf("create request %s: duplicate id", r.ID)
		}
		st, body, err := s.requestRow(r, nil)
		if err != nil {
			return nil, "", err
		}
		*writes = append(*writes, st)
		bodies[r.ID] = body
		return o.events, r.ID, nil
	}
	body, found := bodies[o.id]
	if !found {
		return nil, "", store.ErrNotFound
	}
	r, err := decodeRequest(body)
	if err != nil {
		return nil, "", err
	}
	before := *r
	events, err = o.m(r)
	if err != nil {
		return nil, "", err
	}
	r.ID = o.id
	r.Version++
	st, nb, err := s.requestRow(r, &before)
	if err != nil {
		return nil, "", err
	}
	*writes = append(*writes, st)
	bodies[o.id] = nb
	o.out = r
	return events, o.id, nil
}

// headHash is the hash of the newest record, from its hash column or body.
func (s *Store) headHash(last []byte) (string, error) {
	if s.d.AuditHashColumn {
		return string(last), nil
	}
	e, err := decodeRecord(last)
	if err != nil {
		return "", fmt.Errorf("read the audit head: %w", err)
	}
	return e.Hash, nil
}

// bulk returns the statements inserting into table the rows whose values
// are in vals, one row after the other.
func (s *Store) bulk(table string, cols []string, vals []any) []Stmt {
	if len(vals) == 0 {
		return nil
	}
	if s.d.BulkInsert != nil {
		return s.d.BulkInsert(table, cols, vals)
	}
	return valuesInsert(table, cols, vals)
}

// valuesInsert inserts rows with multi-row VALUES, a statement per chunk
// (well under SQLite's bound on parameters).
func valuesInsert(table string, cols []string, vals []any) []Stmt {
	per := max(1, 2000/len(cols))
	one := "(" + marks(len(cols)) + ")"
	var out []Stmt
	for len(vals) > 0 {
		n := min(len(vals)/len(cols), per)
		var q strings.Builder
		q.Grow(len(table) + 40 + len(cols)*12 + n*(len(one)+1))
		q.WriteString("INSERT INTO " + table + " (" + join(cols) + ") VALUES ")
		for i := range n {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(one)
		}
		out = append(out, Stmt{SQL: q.String(), Args: vals[: n*len(cols) : n*len(cols)]})
		vals = vals[n*len(cols):]
	}
	return out
}

func join(cols []string) string { return strings.Join(cols, ", ") }

// recordRows are the statements storing chained records.
func (s *Store) recordRows(records []api.AuditEvent, bodies [][]byte) []Stmt {
	vals := make([]any, 0, len(records)*len(s.sql.auditCols))
	for i, e := range records {
		vals = append(vals, e.Seq, e.Time.UnixNano(), e.Type, e.Actor, e.Subject, e.Role, e.RequestID)
		if s.d.AuditHashColumn {
			vals = append(vals, e.Hash)
		}
		vals = append(vals, JSON(bodies[i]))
	}
	return s.bulk("audit", s.sql.auditCols, vals)
}

// treeRows are the statements storing tree hashes.
func (s *Store) treeRows(hs []store.StoredHash) []Stmt {
	vals := make([]any, 0, 2*len(hs))
	for i := range hs {
		vals = append(vals, hs[i].Index, hs[i].Hash[:])
	}
	return s.bulk("audit_tree", treeCols, vals)
}

var treeCols = []string{"idx", "hash"}
