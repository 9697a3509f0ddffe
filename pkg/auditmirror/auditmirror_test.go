package auditmirror

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store/sqlite"
)

func TestMirrorResumesWithoutLossOrRepeat(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	add := func(n int) {
		for range n {
			if err := st.Append(ctx, audit.Event{Time: time.Now(), Type: audit.TypePolicyLoaded, Actor: "test"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	add(5)
	mirror := func() {
		last, err := lastSeq(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := CopyOnce(ctx, st, f, &last); err != nil {
			t.Fatal(err)
		}
	}
	mirror()
	add(1200) // more than one page
	mirror()  // a "restart": resumes from the file
	mirror()  // nothing new
	data, _ := os.ReadFile(path)
	events, err := audit.ReadAllJSONL(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	rep := audit.Verify(events)
	if !rep.OK || rep.Count != 1205 {
		t.Fatalf("mirror holds %d records, chain %+v", len(events), rep)
	}
}
