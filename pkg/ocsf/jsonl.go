package ocsf

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/jit-access/jit/pkg/api"
)

// WriteJSONLines reads jit's JSON-lines audit export from r (one
// api.AuditEvent a line, as GET /v1/audit/export streams it) and writes one
// OCSF event a line to w.
func WriteJSONLines(w io.Writer, r io.Reader, productVersion string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	enc := json.NewEncoder(w)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e api.AuditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("audit export line %d: %w", n, err)
		}
		if err := enc.Encode(FromAudit(e, productVersion)); err != nil {
			return err
		}
	}
	return sc.Err()
}
