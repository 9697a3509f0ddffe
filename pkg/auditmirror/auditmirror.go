// Package auditmirror appends the store's audit log, in sequence order, to a
// JSON-lines file (audit.export_file) for log shippers and SIEMs. It resumes
// after the last record already in the file, so restarts neither lose nor
// repeat records.
package auditmirror

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/store"
)

// Run mirrors until ctx ends, polling every interval.
func Run(ctx context.Context, st store.Store, path string, interval time.Duration, log *slog.Logger) error {
	last, err := lastSeq(path)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open audit export file: %w", err)
	}
	defer f.Close()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := CopyOnce(ctx, st, f, &last)
		if err != nil && ctx.Err() == nil {
			log.Warn("audit mirror", "file", path, "err", err)
		} else if n > 0 {
			if err := f.Sync(); err != nil {
				log.Warn("audit mirror sync", "file", path, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// CopyOnce writes every record after *last to w and moves *last on.
func CopyOnce(ctx context.Context, st store.Store, w io.Writer, last *int64) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	err := store.EachAudit(ctx, st, store.AuditFilter{AfterSeq: *last}, func(e api.AuditEvent) (bool, error) {
		if err := enc.Encode(&e); err != nil {
			return false, err
		}
		*last = e.Seq
		n++
		return true, nil
	})
	return n, err
}

// lastSeq reads the sequence number of the file's last complete record.
func lastSeq(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read audit export file: %w", err)
	}
	defer f.Close()
	var last int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e api.AuditEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Seq > last {
			last = e.Seq
		}
	}
	return last, sc.Err()
}
