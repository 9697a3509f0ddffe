package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/jit-access/jit/pkg/api"
)

// MaxLineBytes bounds one line of a JSON-lines export when reading it back;
// a longer line is an error, not an allocation.
const MaxLineBytes = 1 << 20

// WriteJSONL writes events as JSON lines (one api.AuditEvent per line), the
// export format for SIEMs and `jit audit verify`.
func WriteJSONL(w io.Writer, events []api.AuditEvent) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write audit event %d: %w", e.Seq, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write audit events: %w", err)
	}
	return nil
}

// ReadJSONL decodes a JSON-lines export, which may come from anywhere and is
// treated as hostile: each non-blank line must be exactly one JSON object
// with only api.AuditEvent's fields (a field the hash does not cover is an
// error, not silently dropped), at most MaxLineBytes long. The sequence stops
// after the first error, which names the line.
func ReadJSONL(r io.Reader) iter.Seq2[api.AuditEvent, error] {
	return func(yield func(api.AuditEvent, error) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			e, err := decodeLine(b)
			if err != nil {
				yield(api.AuditEvent{}, fmt.Errorf("audit export line %d: %w", line, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line longer than %d bytes", MaxLineBytes)
			}
			yield(api.AuditEvent{}, fmt.Errorf("audit export line %d: %w", line+1, err))
		}
	}
}

func decodeLine(b []byte) (api.AuditEvent, error) {
	if b[0] != '{' {
		return api.AuditEvent{}, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e api.AuditEvent
	if err := dec.Decode(&e); err != nil {
		return api.AuditEvent{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return api.AuditEvent{}, errors.New("trailing data after the JSON object")
	}
	return e, nil
}

// ReadAllJSONL reads a whole export into memory.
func ReadAllJSONL(r io.Reader) ([]api.AuditEvent, error) {
	var out []api.AuditEvent
	for e, err := range ReadJSONL(r) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
