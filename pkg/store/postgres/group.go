package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// Group commit. Every audit append serialises on the audit lock, held until
// its transaction commits; with one transaction per write the lock is held
// through every commit's WAL flush, so throughput is one flush per write.
// Instead, writers queue their operation and one of them, the committer,
// runs every queued operation in one transaction: it takes the audit lock
// first (then the rows' locks, so replicas cannot deadlock), reads the rows
// in one query, applies the mutations in Go, and sends every write, the
// chained records and their tree hashes in one pipeline ending in COMMIT.
// A batch costs three round trips and one flush, however many writes it
// holds. When a statement of the batch fails (a duplicate id), the batch is
// rolled back and each operation retried in a batch of its own, so only the
// faulty one fails.

// maxBatch bounds how many operations share one transaction.
const maxBatch = 128

// batchTimeout bounds one batch's transaction; an operation's own context
// only matters until its batch starts.
const batchTimeout = 30 * time.Second

type opKind int

const (
	opCreate opKind = iota
	opUpdate
	opAppend
)

// gop is one caller's write waiting for (or done by) a committer.
type gop struct {
	ctx    context.Context
	kind   opKind
	id     string
	req    *api.Request   // opCreate: the new request
	m      store.Mutation // opUpdate
	events []audit.Event  // opCreate, opAppend
	out    *api.Request   // opUpdate's result
	err    error
	done   bool // set under the group commit lock once out and err are final
}

// submit queues o and runs batches until o is done.
func (s *Store) submit(o *gop) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	s.group.Run(o, func() bool { return o.done }, s.runBatch)
	return o.err
}

// runBatch runs ops in one transaction, or each alone when the batch fails.
func (s *Store) runBatch(ops []*gop) {
	var live []*gop
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
	committed, err := s.tryBatch(ctx, live)
	switch {
	case err == nil:
	case committed || len(live) == 1:
		// A failed COMMIT has an unknown outcome: retrying could apply an
		// operation twice, so every operation of the batch reports it.
		for _, o := range live {
			if !o.done {
				o.err, o.done = err, true
			}
		}
	default:
		for _, o := range live {
			if !o.done {
				s.runBatch([]*gop{o})
			}
		}
	}
}

// tryBatch runs live in one transaction. Operations that fail on their own
// (unknown id, a mutation's error) are done with their error and write
// nothing; the others are done when the transaction commits. committed
// reports that the error came from COMMIT itself.
func (s *Store) tryBatch(ctx context.Context, live []*gop) (commitErr bool, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	// Round trip 1: the audit lock, the chain head, the rows to update.
	seq, prev, bodies, err := lockAndRead(ctx, tx, live)
	if err != nil {
		return false, err
	}

	// In Go: mutations, records, tree hashes.
	var writes pgx.Batch
	var records []api.AuditEvent
	var recBodies [][]byte
	var ok, failed []*gop
	size := seq
	for _, o := range live {
		events, err := s.applyOp(o, bodies, &writes)
		if err != nil {
			// Done only once the batch commits: the error may rest on an
			// earlier operation of this batch, which a failed batch undoes.
			o.err = err
			failed = append(failed, o)
			continue
		}
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
				return false, err
			}
			prev = e.Hash
			records = append(records, e)
			recBodies = append(recBodies, body)
		}
		ok = append(ok, o)
	}
	fail := func() {
		for _, o := range failed {
			o.done = true
		}
	}
	if len(ok) == 0 {
		fail()
		return false, nil
	}
	if len(records) > 0 {
		// Round trip 2: the tree's frontier.
		if err := queueTree(ctx, tx, size, records, recBodies, &writes); err != nil {
			return false, err
		}
	}

	// Round trip 3: every write, then COMMIT.
	if err := tx.SendBatch(ctx, &writes).Close(); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return true, err
	}
	for _, o := range ok {
		o.err, o.done = nil, true
	}
	fail()
	return false, nil
}

// queueTree reads the frontier of the tree of size records and queues the
// records with the tree nodes they add onto writes.
func queueTree(ctx context.Context, tx pgx.Tx, size int64, records []api.AuditEvent, recBodies [][]byte, writes *pgx.Batch) error {
	a := store.NewTreeAppender(size, func(idx []int64) ([]tlog.Hash, error) { return readHashes(ctx, tx, idx) })
	if err := a.Prefetch(); err != nil {
		return err
	}
	for _, body := range recBodies {
		if err := a.Append(body); err != nil {
			return err
		}
	}
	queueRecords(writes, records, recBodies, a.Added)
	return nil
}

// lockAndRead is a batch's first round trip: it takes the audit lock and
// reads the chain head (seq and hash; 0 and the genesis hash when the log is
// empty) and, locked for update, the bodies of the requests live updates.
func lockAndRead(ctx context.Context, tx pgx.Tx, live []*gop) (seq int64, prev string, bodies map[string][]byte, err error) {
	var ids []string
	for _, o := range live {
		if o.kind == opUpdate {
			ids = append(ids, o.id)
		}
	}
	var b pgx.Batch
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, lockAudit)
	b.Queue(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`)
	b.Queue(`SELECT id, body FROM requests WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	br := tx.SendBatch(ctx, &b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return 0, "", nil, err
	}
	seq, prev = 0, audit.GenesisHash
	if err := br.QueryRow().Scan(&seq, &prev); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		br.Close()
		return 0, "", nil, err
	}
	bodies = map[string][]byte{}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return 0, "", nil, err
	}
	for rows.Next() {
		var id string
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			rows.Close()
			br.Close()
			return 0, "", nil, err
		}
		bodies[id] = body
	}
	rows.Close()
	if err := errors.Join(rows.Err(), br.Close()); err != nil {
		return 0, "", nil, err
	}
	return seq, prev, bodies, nil
}

// applyOp runs one operation against the batch's view of the rows (bodies,
// updated as the batch goes) and queues its row writes. A panicking
// mutation is this operation's error.
func (s *Store) applyOp(o *gop, bodies map[string][]byte, writes *pgx.Batch) (events []audit.Event, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	switch o.kind {
	case opAppend:
		return o.events, nil
	case opCreate:
		r := o.req
		if _, dup := bodies[r.ID]; dup {
			return nil, fmt.Errorf("create request %s: duplicate id", r.ID)
		}
		body, err := queueRequest(writes, r, true)
		if err != nil {
			return nil, err
		}
		bodies[r.ID] = body
		return o.events, nil
	}
	body, found := bodies[o.id]
	if !found {
		return nil, store.ErrNotFound
	}
	r, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	events, err = o.m(r)
	if err != nil {
		return nil, err
	}
	r.ID = o.id
	r.Version++
	nb, err := queueRequest(writes, r, false)
	if err != nil {
		return nil, err
	}
	bodies[o.id] = nb
	o.out = r
	return events, nil
}

func queueRequest(b *pgx.Batch, r *api.Request, insert bool) ([]byte, error) {
	q, args, body, err := requestRow(r, insert)
	if err != nil {
		return nil, err
	}
	b.Queue(q, args...)
	b.Queue(`SELECT pg_notify($1, $2)`, channel, r.ID)
	return body, nil
}

// queueRecords queues the chained records and their tree hashes, one
// statement each.
func queueRecords(b *pgx.Batch, records []api.AuditEvent, bodies [][]byte, tree []store.StoredHash) {
	n := len(records)
	seqs, times := make([]int64, n), make([]int64, n)
	types, actors, subjects, roles, reqs, hashes, bs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range records {
		seqs[i], times[i] = e.Seq, e.Time.UnixNano()
		types[i], actors[i], subjects[i], roles[i], reqs[i], hashes[i], bs[i] = e.Type, e.Actor, e.Subject, e.Role, e.RequestID, e.Hash, string(bodies[i])
	}
	b.Queue(`INSERT INTO audit (seq, time, type, actor, subject, role, request_id, hash, body)
		SELECT s, t, ty, a, su, ro, rq, h, bo::json
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
		AS u(s, t, ty, a, su, ro, rq, h, bo)`, seqs, times, types, actors, subjects, roles, reqs, hashes, bs)
	idx, hs := make([]int64, len(tree)), make([][]byte, len(tree))
	for i, h := range tree {
		idx[i], hs[i] = h.Index, h.Hash[:]
	}
	b.Queue(`INSERT INTO audit_tree (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, idx, hs)
}
