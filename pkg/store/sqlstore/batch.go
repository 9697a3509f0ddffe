package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// A Write is one operation of a Batch.
type Write struct{ o *op }

// CreateWrite is Create's operation: r (its Version becomes 1) and events.
func CreateWrite(r *api.Request, events []audit.Event) Write {
	r.Version = 1
	return Write{&op{kind: opCreate, req: r, events: events}}
}

// UpdateWrite is Update's operation: m applied to request id.
func UpdateWrite(id string, m store.Mutation) Write {
	return Write{&op{kind: opUpdate, id: id, m: m}}
}

// AppendWrite is Append's operation.
func AppendWrite(events ...audit.Event) Write {
	return Write{&op{kind: opAppend, events: events}}
}

// RememberKeyWrite is RememberKey's operation.
func RememberKeyWrite(k store.KeyGrant, at time.Time) Write {
	return Write{&op{kind: opTx, fn: func(ctx context.Context, tx Querier) ([]audit.Event, error) {
		_, err := tx.Exec(ctx, rememberKeySQL, k.AccessKeyID, k.RequestID, k.Requester, k.Role, at.UnixNano())
		return nil, err
	}}}
}

// Batch runs writes in their order in one transaction, through the write
// path every other write takes (the same rows, chain and tree hashes as
// the same operations submitted one by one), and fails as a whole if any
// of them fails. It is for bulk loads (internal/seed): many operations to
// one commit, in a known order.
func (s *Store) Batch(ctx context.Context, writes []Write) error {
	if len(writes) == 0 {
		return nil
	}
	ops := make([]*op, len(writes))
	for i, w := range writes {
		w.o.ctx, w.o.done, w.o.err, w.o.out = ctx, false, nil, nil
		ops[i] = w.o
	}
	var err error
	s.group.Exclusive(func() {
		bctx, cancel := context.WithTimeout(ctx, 10*batchTimeout)
		defer cancel()
		_, err = s.tryBatch(bctx, ops)
	})
	if err != nil {
		return err
	}
	for i, o := range ops {
		if o.err != nil {
			return fmt.Errorf("write %d of the batch: %w", i, o.err)
		}
	}
	return nil
}
