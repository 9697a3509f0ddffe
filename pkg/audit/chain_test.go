package audit

import (
	"errors"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// chain builds a valid chain of n records.
func chain(n int) []api.AuditEvent {
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	out := make([]api.AuditEvent, 0, n)
	prev := GenesisHash
	for i := range n {
		e := api.AuditEvent{
			Seq:       int64(i + 1),
			Time:      base.Add(time.Duration(i) * time.Second),
			Type:      TypeRequestCreated,
			Actor:     "alice@example.com",
			Subject:   "alice@example.com",
			Role:      "prod-admin",
			RequestID: "req-1",
			Reason:    "deploy",
			Detail:    map[string]string{"b": "2", "a": "1"},
			PrevHash:  prev,
		}
		e.Hash = Hash(e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestHashIsPinnedToEncodingV1(t *testing.T) {
	// Changing what is hashed breaks every stored chain: a new encoding
	// needs a new version prefix, and this value must not change.
	e := chain(1)[0]
	const want = "0f5c020815a7344bfac2bec99671a5d6d578a3cb5b53ca83eb910b4ba9253ea7"
	if got := Hash(e); got != want {
		t.Fatalf("Hash = %s, want %s", got, want)
	}
}

func TestHashCoversEveryFieldButHash(t *testing.T) {
	e := chain(1)[0]
	h := Hash(e)
	edits := map[string]func(*api.AuditEvent){
		"seq":        func(e *api.AuditEvent) { e.Seq++ },
		"time":       func(e *api.AuditEvent) { e.Time = e.Time.Add(time.Nanosecond) },
		"type":       func(e *api.AuditEvent) { e.Type = TypeRevoked },
		"actor":      func(e *api.AuditEvent) { e.Actor = "mallory" },
		"subject":    func(e *api.AuditEvent) { e.Subject = "mallory" },
		"role":       func(e *api.AuditEvent) { e.Role = "dev" },
		"request_id": func(e *api.AuditEvent) { e.RequestID = "req-2" },
		"reason":     func(e *api.AuditEvent) { e.Reason = "" },
		"detail val": func(e *api.AuditEvent) { e.Detail = map[string]string{"a": "1", "b": "3"} },
		"detail key": func(e *api.AuditEvent) { e.Detail = map[string]string{"a": "1", "c": "2"} },
		"detail nil": func(e *api.AuditEvent) { e.Detail = nil },
		"prev_hash":  func(e *api.AuditEvent) { e.PrevHash = e.Hash },
		// Length prefixes keep field boundaries: moving a character
		// from one field to the next changes the hash.
		"boundary": func(e *api.AuditEvent) { e.Actor, e.Subject = e.Actor+"a", e.Subject[1:] },
	}
	for name, edit := range edits {
		c := e
		c.Detail = map[string]string{"a": "1", "b": "2"}
		edit(&c)
		if Hash(c) == h {
			t.Errorf("editing %s does not change the hash", name)
		}
	}
	c := e
	c.Hash = "something else"
	if Hash(c) != h {
		t.Error("the Hash field itself changes the hash")
	}
}

func TestHashIgnoresTimeZoneAndMonotonicClock(t *testing.T) {
	e := chain(1)[0]
	h := Hash(e)
	e.Time = e.Time.In(time.FixedZone("x", 5*3600))
	if Hash(e) != h {
		t.Error("time zone changes the hash")
	}
	now := time.Now()
	e.Time = now
	h = Hash(e)
	e.Time = now.Round(0)
	if Hash(e) != h {
		t.Error("monotonic reading changes the hash")
	}
}

func TestVerifyAcceptsValidChain(t *testing.T) {
	evs := chain(10)
	r := Verify(evs)
	if !r.OK || r.Count != 10 || r.HeadSeq != 10 || r.HeadHash != evs[9].Hash {
		t.Fatalf("report = %+v", r)
	}
	if r := Verify(nil); !r.OK || r.HeadSeq != 0 || r.HeadHash != GenesisHash {
		t.Fatalf("empty chain report = %+v", r)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func([]api.AuditEvent) []api.AuditEvent
		seq     int64
		problem string
	}{
		{"edited record", func(e []api.AuditEvent) []api.AuditEvent {
			e[4].Reason = "nothing to see"
			return e
		}, 5, ProblemHashMismatch},
		{"edited and rehashed record", func(e []api.AuditEvent) []api.AuditEvent {
			e[4].Reason = "nothing to see"
			e[4].Hash = Hash(e[4])
			return e
		}, 6, ProblemPrevHash},
		{"deleted record", func(e []api.AuditEvent) []api.AuditEvent {
			return append(e[:3], e[4:]...)
		}, 5, ProblemSeqGap},
		{"deleted first record", func(e []api.AuditEvent) []api.AuditEvent {
			return e[1:]
		}, 2, ProblemSeqGap},
		{"deleted record, later ones renumbered and rehashed", func(e []api.AuditEvent) []api.AuditEvent {
			e = append(e[:3], e[4:]...)
			for i := 3; i < len(e); i++ {
				e[i].Seq = int64(i + 1)
				e[i].Hash = Hash(e[i])
			}
			return e
		}, 4, ProblemPrevHash},
		{"inserted record", func(e []api.AuditEvent) []api.AuditEvent {
			ins := e[2]
			ins.Reason = "forged"
			ins.Hash = Hash(ins)
			return append(e[:3], append([]api.AuditEvent{ins}, e[3:]...)...)
		}, 3, ProblemSeqOrder},
		{"swapped records", func(e []api.AuditEvent) []api.AuditEvent {
			e[5], e[6] = e[6], e[5]
			return e
		}, 7, ProblemSeqGap},
		{"repeated record", func(e []api.AuditEvent) []api.AuditEvent {
			return append(e[:6], e[5:]...)
		}, 6, ProblemSeqOrder},
		{"broken genesis", func(e []api.AuditEvent) []api.AuditEvent {
			e[0].PrevHash = e[1].Hash
			e[0].Hash = Hash(e[0])
			return e
		}, 1, ProblemPrevHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Verify(tt.tamper(chain(10)))
			if r.OK || r.Err == nil {
				t.Fatalf("tampering not detected: %+v", r)
			}
			if r.Err.Seq != tt.seq || r.Err.Problem != tt.problem {
				t.Fatalf("got seq %d %s (%v), want seq %d %s", r.Err.Seq, r.Err.Problem, r.Err, tt.seq, tt.problem)
			}
			if !errors.Is(r.Err, ErrChain) {
				t.Error("ChainError does not match ErrChain")
			}
		})
	}
}

func TestVerifierStopsAtFirstProblem(t *testing.T) {
	evs := chain(5)
	evs[1].Actor = "x"
	v := NewVerifier()
	var first error
	for _, e := range evs {
		if err := v.Add(e); err != nil && first == nil {
			first = err
		}
	}
	if err := v.Add(evs[4]); err != first {
		t.Fatalf("later Add returned %v, want the first error %v", err, first)
	}
	if r := v.Result(); r.Count != 1 || r.HeadSeq != 1 {
		t.Fatalf("report = %+v", r)
	}
}

func TestVerifyHeadDetectsTruncationAndRewrite(t *testing.T) {
	evs := chain(10)
	head := evs[7] // recorded when the log had 8 records

	full := NewVerifier()
	for _, e := range evs {
		if err := full.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := full.VerifyHead(head.Seq, head.Hash); err != nil {
		t.Fatalf("grown log fails its old head: %v", err)
	}
	if err := full.VerifyHead(10, evs[9].Hash); err != nil {
		t.Fatalf("log fails its own head: %v", err)
	}
	if err := full.VerifyHead(0, GenesisHash); err != nil {
		t.Fatalf("log fails the genesis head: %v", err)
	}

	// Truncated: a valid chain, caught only by the head.
	cut := NewVerifier()
	for _, e := range evs[:6] {
		if err := cut.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if !cut.Result().OK {
		t.Fatal("a truncated chain should still verify on its own")
	}
	var ce *ChainError
	if err := cut.VerifyHead(head.Seq, head.Hash); !errors.As(err, &ce) || ce.Problem != ProblemTruncated || ce.Seq != 8 {
		t.Fatalf("truncation: got %v", err)
	}

	// Rewritten from seq 5 on with valid hashes: caught by the head.
	re := chain(10)
	re[4].Reason = "rewritten"
	for i := 4; i < len(re); i++ {
		re[i].PrevHash = re[i-1].Hash
		re[i].Hash = Hash(re[i])
	}
	rv := NewVerifier()
	for _, e := range re {
		if err := rv.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := rv.VerifyHead(head.Seq, head.Hash); !errors.As(err, &ce) || ce.Problem != ProblemHeadMismatch {
		t.Fatalf("rewrite: got %v", err)
	}
}

func TestResumeVerifiesAContinuation(t *testing.T) {
	evs := chain(10)
	v := Resume(evs[3].Seq, evs[3].Hash)
	for _, e := range evs[4:] {
		if err := v.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	if r := v.Result(); !r.OK || r.Count != 6 || r.HeadSeq != 10 {
		t.Fatalf("report = %+v", r)
	}
	if err := v.VerifyHead(4, evs[3].Hash); err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyHead(2, evs[1].Hash); err == nil {
		t.Fatal("a head before the resumed range cannot be checked")
	}
	w := Resume(evs[3].Seq, evs[2].Hash)
	if err := w.Add(evs[4]); err == nil {
		t.Fatal("a continuation from the wrong hash verifies")
	}
}
