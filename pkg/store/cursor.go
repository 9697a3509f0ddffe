package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// EncodeCursor is the keyset position (created_at in Unix nanoseconds, id)
// of a page's last request, opaque to clients. Every store pages the same way.
func EncodeCursor(createdAt int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt, 10) + "|" + id))
}

// DecodeCursor reverses EncodeCursor; a cursor from elsewhere is an error.
func DecodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		ts, id, ok := strings.Cut(string(b), "|")
		if n, perr := strconv.ParseInt(ts, 10, 64); ok && perr == nil {
			return n, id, nil
		}
	}
	return 0, "", fmt.Errorf("bad cursor %q", c)
}

// ListLimit is the page size a Filter asks for, within the stores' bounds.
func (f Filter) ListLimit() int {
	if f.Limit <= 0 {
		return 50
	}
	return min(f.Limit, 500)
}

// AuditLimit is the page size an AuditFilter asks for, within the stores' bounds.
func (f AuditFilter) AuditLimit() int {
	if f.Limit <= 0 {
		return 100
	}
	return min(f.Limit, 1000)
}

// EachAudit calls fn for every event f selects, in sequence order, a page
// at a time; fn returning false stops early.
func EachAudit(ctx context.Context, s Store, f AuditFilter, fn func(api.AuditEvent) (bool, error)) error {
	f.Limit = 1000
	for {
		events, err := s.Audit(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range events {
			if more, err := fn(e); err != nil || !more {
				return err
			}
		}
		if len(events) < f.Limit {
			return nil
		}
		f.AfterSeq = events[len(events)-1].Seq
	}
}

// Page cuts a List query's rows (fetched with limit+1) to limit and returns
// the cursor for the next page, "" on the last one.
func Page(rows []api.Request, limit int) ([]api.Request, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	last := rows[limit-1]
	return rows, EncodeCursor(last.CreatedAt.UnixNano(), last.ID)
}
