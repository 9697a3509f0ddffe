package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/jit-access/jit/pkg/api"
)

// GenesisHash is the PrevHash of the first record (Seq 1) of every chain.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// encodingV1 starts every hashed encoding. A future change to what is hashed
// gets a new prefix, so old and new records can never be confused.
const encodingV1 = "jit.audit.v1\x00"

// Hash returns the record's hash: the lower-case hex SHA-256 of a canonical
// encoding (version 1) of every field except Hash itself, Seq and PrevHash
// included. Strings are length-prefixed, Detail's keys are sorted and Time is
// hashed as RFC 3339 with nanoseconds in UTC, so a record hashes the same
// after a JSON or database round trip.
func Hash(e api.AuditEvent) string {
	b := make([]byte, 0, 256)
	b = append(b, encodingV1...)
	b = appendField(b, strconv.FormatInt(e.Seq, 10))
	b = appendField(b, e.Time.UTC().Format(time.RFC3339Nano))
	b = appendField(b, e.Type)
	b = appendField(b, e.Actor)
	b = appendField(b, e.Subject)
	b = appendField(b, e.Role)
	b = appendField(b, e.RequestID)
	b = appendField(b, e.Reason)
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.BigEndian.AppendUint64(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendField(b, k)
		b = appendField(b, e.Detail[k])
	}
	b = appendField(b, e.PrevHash)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Problem kinds a Verifier reports.
const (
	ProblemHashMismatch = "hash_mismatch" // a record was edited after it was written
	ProblemSeqGap       = "seq_gap"       // records are missing before this one (deleted)
	ProblemSeqOrder     = "seq_order"     // a record repeats or goes back (reordered or duplicated)
	ProblemPrevHash     = "prev_hash"     // the link to the previous record is broken (inserted, deleted or reordered)
	ProblemTruncated    = "truncated"     // the log ends before a known head
	ProblemHeadMismatch = "head_mismatch" // the record at a known head's seq has another hash
)

// ChainError says where and why a chain is broken.
type ChainError struct {
	Seq     int64  // the first bad record's seq (for truncation: the expected head's)
	Index   int    // its 0-based position in the input (-1 for truncation)
	Problem string // one of the Problem constants
	Detail  string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d (%s): %s", e.Seq, e.Problem, e.Detail)
}

// Report is the outcome of verifying a chain.
type Report struct {
	OK       bool
	Count    int    // records accepted before the first problem
	HeadSeq  int64  // the last accepted record's seq (0: none)
	HeadHash string // the last accepted record's hash (GenesisHash: none)
	// Err is the first problem, nil when OK.
	Err *ChainError
}

// Verifier checks a chain incrementally, one record at a time, in sequence
// order. It stops at the first problem: later Adds return the same error.
//
// A chain proves that no record was edited, removed from the middle,
// inserted or reordered. It cannot on its own show that records were removed
// from the end: a truncated log is still a valid chain. Tail truncation is
// only detectable against a head (seq and hash) recorded earlier somewhere
// the log's writer cannot change; see VerifyHead.
type Verifier struct {
	next   int64
	prev   string
	start  int64      // seq of hashes[0]
	base   string     // the hash of the record before start (trusted)
	hashes [][32]byte // accepted records' hashes, for VerifyHead
	count  int
	err    *ChainError
}

// NewVerifier returns a Verifier for a whole chain, which starts at seq 1
// with PrevHash GenesisHash.
func NewVerifier() *Verifier { return Resume(0, GenesisHash) }

// Resume returns a Verifier for a chain's continuation after the record
// (seq, hash), e.g. an export taken with a cursor. The known record is
// trusted, not checked.
func Resume(seq int64, hash string) *Verifier {
	return &Verifier{next: seq + 1, prev: hash, start: seq + 1, base: hash}
}

// Add checks the next record.
func (v *Verifier) Add(e api.AuditEvent) error {
	if v.err != nil {
		return v.err
	}
	fail := func(problem, format string, args ...any) error {
		v.err = &ChainError{Seq: e.Seq, Index: v.count, Problem: problem, Detail: fmt.Sprintf(format, args...)}
		return v.err
	}
	if got := Hash(e); got != e.Hash {
		return fail(ProblemHashMismatch, "record hashes to %s but says %s: edited", got, e.Hash)
	}
	switch {
	case e.Seq > v.next:
		return fail(ProblemSeqGap, "expected seq %d: %d record(s) missing", v.next, e.Seq-v.next)
	case e.Seq < v.next:
		return fail(ProblemSeqOrder, "expected seq %d: record out of order or repeated", v.next)
	}
	if e.PrevHash != v.prev {
		return fail(ProblemPrevHash, "prev_hash %s does not match the previous record's hash %s", e.PrevHash, v.prev)
	}
	var sum [32]byte
	if _, err := hex.Decode(sum[:], []byte(e.Hash)); err != nil {
		return fail(ProblemHashMismatch, "hash is not hex: %v", err)
	}
	v.hashes = append(v.hashes, sum)
	v.prev = e.Hash
	v.next++
	v.count++
	return nil
}

// Result reports on the records added so far.
func (v *Verifier) Result() Report {
	return Report{OK: v.err == nil, Count: v.count, HeadSeq: v.next - 1, HeadHash: v.prev, Err: v.err}
}

// VerifyHead checks, after the records were added, that the chain reaches
// the record (expectedSeq, expectedHash) — a head recorded earlier, outside
// the log. It detects a log cut short (ProblemTruncated) or rewritten from
// that record on (ProblemHeadMismatch). A chain that has grown past the head
// passes if its record at expectedSeq has expectedHash.
func (v *Verifier) VerifyHead(expectedSeq int64, expectedHash string) error {
	if v.err != nil {
		return v.err
	}
	head := v.next - 1
	if expectedSeq > head {
		return &ChainError{Seq: expectedSeq, Index: -1, Problem: ProblemTruncated,
			Detail: fmt.Sprintf("log ends at seq %d but a head at seq %d was recorded: the tail was removed", head, expectedSeq)}
	}
	if expectedSeq < v.start-1 {
		return fmt.Errorf("head seq %d is before the verified range (from seq %d)", expectedSeq, v.start)
	}
	got := ""
	if expectedSeq == v.start-1 {
		got = v.base
	} else {
		h := v.hashes[expectedSeq-v.start]
		got = hex.EncodeToString(h[:])
	}
	if got != expectedHash {
		return &ChainError{Seq: expectedSeq, Index: int(expectedSeq - v.start), Problem: ProblemHeadMismatch,
			Detail: fmt.Sprintf("record hashes to %s but the recorded head says %s: the log was rewritten", got, expectedHash)}
	}
	return nil
}

// Verify checks a whole chain starting at seq 1.
func Verify(events []api.AuditEvent) Report {
	v := NewVerifier()
	for _, e := range events {
		if v.Add(e) != nil {
			break
		}
	}
	return v.Result()
}

// VerifySeq checks a whole chain read from a stream such as ReadJSONL. The
// error is a read error; chain problems are in the Report.
func VerifySeq(events iter.Seq2[api.AuditEvent, error]) (Report, error) {
	v := NewVerifier()
	for e, err := range events {
		if err != nil {
			return v.Result(), err
		}
		if v.Add(e) != nil {
			break
		}
	}
	return v.Result(), nil
}

// ErrChain matches every *ChainError with errors.Is.
var ErrChain = errors.New("audit chain broken")

// Is makes errors.Is(err, ErrChain) true for chain problems.
func (e *ChainError) Is(target error) bool { return target == ErrChain }
