package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jit-access/jit/pkg/store"
)

// The store's scans and the database's plans for them, so that a test can
// check that each uses its index (TestQueryPlansUseTheirIndexes): a dropped
// or unused index then fails a test instead of slowing a big store down.

// ExplainList is the plan of List(f).
func (s *Store) ExplainList(ctx context.Context, f store.Filter) (string, error) {
	q, a, err := s.listQuery(f, f.ListLimit())
	if err != nil {
		return "", err
	}
	return s.explain(ctx, q, a)
}

// ExplainDue is the plan of Due(now, limit).
func (s *Store) ExplainDue(ctx context.Context, now time.Time, limit int) (string, error) {
	return s.explain(ctx, dueQuery, []any{now.UnixNano(), now.UnixNano(), limit})
}

// ExplainAudit is the plan of Audit(f).
func (s *Store) ExplainAudit(ctx context.Context, f store.AuditFilter) (string, error) {
	q, a := auditQuery(f)
	return s.explain(ctx, q, a)
}

func (s *Store) explain(ctx context.Context, q string, a []any) (string, error) {
	if s.d.Explain == "" || s.d.ExplainColumns < 1 {
		return "", fmt.Errorf("sqlstore: dialect %q cannot explain", s.d.Name)
	}
	rows, err := s.db.Query(ctx, s.d.Explain+q, a...)
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", q, err)
	}
	defer rows.Close()
	var lines []string
	cols := make([]any, s.d.ExplainColumns)
	for i := range cols[:len(cols)-1] {
		cols[i] = new(any)
	}
	var text string
	cols[len(cols)-1] = &text
	for rows.Next() {
		if err := rows.Scan(cols...); err != nil {
			return "", err
		}
		lines = append(lines, text)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
