package audit

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
)

func TestJSONLRoundTripKeepsTheChain(t *testing.T) {
	evs := chain(20)
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, evs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 20 {
		t.Fatalf("%d lines, want 20", n)
	}
	r, err := VerifySeq(ReadJSONL(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.HeadHash != evs[19].Hash {
		t.Fatalf("report = %+v", r)
	}
}

func TestReadJSONLRejectsHostileInput(t *testing.T) {
	good := func() string {
		var b bytes.Buffer
		if err := WriteJSONL(&b, chain(1)); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(b.String())
	}()
	tests := map[string]string{
		"unknown field":   strings.Replace(good, `{"seq"`, `{"extra":"x","seq"`, 1),
		"trailing object": good + ` {}`,
		"not an object":   `[1,2]`,
		"bad json":        `{"seq":`,
		"wrong type":      `{"seq":"one"}`,
		"too long":        `{"reason":"` + strings.Repeat("x", MaxLineBytes) + `"}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadAllJSONL(strings.NewReader(good + "\n" + in + "\n"))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("error does not name line 2: %v", err)
			}
		})
	}
	evs, err := ReadAllJSONL(strings.NewReader("\n" + good + "\n\n"))
	if err != nil || len(evs) != 1 {
		t.Fatalf("blank lines: %v, %d events", err, len(evs))
	}
}

func FuzzReadJSONL(f *testing.F) {
	var b bytes.Buffer
	if err := WriteJSONL(&b, chain(3)); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"seq":1,"time":"0000-01-01T00:00:00+01:00"}`))
	f.Add([]byte(`{"detail":{"a":"\ud800"}}` + "\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ReadAllJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = Verify(evs)
		// What decodes re-encodes to records with the same hashes.
		var out bytes.Buffer
		if err := WriteJSONL(&out, evs); err != nil {
			return // e.g. a time whose UTC year is outside 0…9999
		}
		again, err := ReadAllJSONL(&out)
		if err != nil {
			t.Fatalf("re-read of our own output: %v", err)
		}
		if len(again) != len(evs) {
			t.Fatalf("%d events became %d", len(evs), len(again))
		}
		for i := range evs {
			if Hash(evs[i]) != Hash(again[i]) {
				t.Fatalf("event %d hashes differently after a round trip: %+v vs %+v", i, evs[i], again[i])
			}
		}
	})
}

var _ = api.AuditEvent{}
