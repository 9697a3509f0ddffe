package storeopen

import (
	"context"
	"log/slog"

	"github.com/jit-access/jit/pkg/api"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// ReadAudit opens the store dsn names and reads its audit log for `jit
// audit verify --store`: the store's own tree head first, as a checkpoint,
// then every record in order to each until it returns false. Reading the
// tree before the records means an edited record whose tree hashes were
// left alone no longer hashes to the returned root.
func ReadAudit(ctx context.Context, dsn string, logger *slog.Logger, each func(api.AuditEvent) bool) (jitaudit.Checkpoint, error) {
	st, err := Open(ctx, dsn, logger)
	if err != nil {
		return jitaudit.Checkpoint{}, err
	}
	defer st.Close()
	size, root, err := store.TreeHead(ctx, st)
	if err != nil {
		return jitaudit.Checkpoint{}, err
	}
	cp := jitaudit.Checkpoint{Origin: "store", Size: size, Hash: root}
	err = store.EachAudit(ctx, st, store.AuditFilter{}, func(e api.AuditEvent) (bool, error) { return each(e), nil })
	return cp, err
}
