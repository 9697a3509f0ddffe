package audit

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
)

// The Merkle tree (RFC 6962, as golang.org/x/mod/sumdb/tlog computes it)
// has one leaf per record: leaf n-1 is the record with Seq n. A leaf hashes
// the record's canonical bytes, RecordBytes: the JSON encoding the stores
// keep as the record's body. Every field of api.AuditEvent is covered,
// including fields added later, with no change here; the chain hash (Hash)
// is covered too.

// RecordBytes returns a record's canonical bytes: encoding/json's encoding
// of the api.AuditEvent (struct field order, sorted map keys, times in RFC
// 3339 with nanoseconds). The stores store exactly these bytes, and a record
// decoded from an export re-encodes to the same bytes. A field added to
// api.AuditEvent must be omitempty so that older records keep their bytes
// (TestRecordBytesOfAnOldRecordNeverChange).
func RecordBytes(e api.AuditEvent) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode audit record %d: %w", e.Seq, err)
	}
	return b, nil
}

// LeafHash returns the tree's leaf hash of a record.
func LeafHash(e api.AuditEvent) (tlog.Hash, error) {
	b, err := RecordBytes(e)
	if err != nil {
		return tlog.Hash{}, err
	}
	return tlog.RecordHash(b), nil
}

// MemoryTree is a tree whose stored hashes (tlog's hash storage) live in
// memory: for offline verification of an export, tests and benchmarks. It
// implements tlog.HashReader.
type MemoryTree struct {
	hashes []tlog.Hash // indexed by tlog.StoredHashIndex
	size   int64
}

// Append adds the next leaf.
func (m *MemoryTree) Append(leaf tlog.Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(m.size, leaf, m)
	if err != nil {
		return err
	}
	m.hashes = append(m.hashes, hs...)
	m.size++
	return nil
}

// Size is the number of leaves.
func (m *MemoryTree) Size() int64 { return m.size }

// Root returns the tree hash at size n (at most Size).
func (m *MemoryTree) Root(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, m) }

// ReadHashes implements tlog.HashReader.
func (m *MemoryTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("stored hash %d not in a tree of %d records", x, m.size)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

// Checkpoint is a signed statement of the tree's size and root hash, in the
// C2SP tlog-checkpoint body format: origin line, size, base64 root hash.
// The origin is the signing key's name, so a checkpoint names its log.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   tlog.Hash
}

// Text is the checkpoint body that is signed.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// String is a one-line form for people: origin, size and root.
func (c Checkpoint) String() string {
	return fmt.Sprintf("%s size %d root %s", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
}

// ParseCheckpoint reads a checkpoint body (the text of a verified note).
// Extension lines after the hash are allowed and ignored, as C2SP says.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return Checkpoint{}, errors.New("malformed checkpoint: want origin, size and hash lines")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint size %q", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint hash %q", lines[2])
	}
	c := Checkpoint{Origin: lines[0], Size: n}
	copy(c.Hash[:], h)
	return c, nil
}

// SignCheckpoint returns c as a signed note. c.Origin must be the signer's
// name.
func SignCheckpoint(c Checkpoint, signer note.Signer) ([]byte, error) {
	if c.Origin != signer.Name() {
		return nil, fmt.Errorf("checkpoint origin %q is not the signing key's name %q", c.Origin, signer.Name())
	}
	return note.Sign(&note.Note{Text: c.Text()}, signer)
}

// ErrCheckpointSignature is returned for a checkpoint not signed by the
// expected key (another key, or a forged or altered signature).
var ErrCheckpointSignature = errors.New("checkpoint is not signed by the log's key")

// OpenCheckpoint verifies a signed checkpoint with the log's verifier key
// and parses it. A note signed only by other keys, or whose origin is not
// the key's name, is refused.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return Checkpoint{}, fmt.Errorf("%w %s: %v", ErrCheckpointSignature, v.Name(), err)
		}
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: origin %q is not the key's name %q", ErrCheckpointSignature, c.Origin, v.Name())
	}
	return c, nil
}

// ReadCheckpoint parses a signed checkpoint note without checking its
// signatures: for comparing size and root, which do not depend on the key
// (a checkpoint signed by a key since rotated).
func ReadCheckpoint(msg []byte) (Checkpoint, error) {
	_, err := note.Open(msg, note.VerifierList())
	var unverified *note.UnverifiedNoteError
	if !errors.As(err, &unverified) {
		return Checkpoint{}, fmt.Errorf("read checkpoint: %w", err)
	}
	return ParseCheckpoint(unverified.Note.Text)
}

// GenerateKey makes a new Ed25519 signing key for checkpoints, named name
// (e.g. the server's host name), in note's text formats.
func GenerateKey(name string) (signerKey, verifierKey string, err error) {
	return note.GenerateKey(rand.Reader, name)
}

// ErrInconsistent is returned when a log's history does not extend a
// checkpoint seen before: it was rolled back or rewritten.
var ErrInconsistent = errors.New("audit log is not consistent with a checkpoint seen before")

// CheckConsistency checks that newer extends older with the consistency
// proof between them (ignored when the sizes are equal). A smaller newer
// tree is a rollback.
func CheckConsistency(older, newer Checkpoint, proof tlog.TreeProof) error {
	switch {
	case newer.Size < older.Size:
		return fmt.Errorf("%w: the log shrank from %d to %d records (rolled back)", ErrInconsistent, older.Size, newer.Size)
	case newer.Size == older.Size:
		if newer.Hash != older.Hash {
			return fmt.Errorf("%w: two different trees of %d records (rewritten)", ErrInconsistent, older.Size)
		}
		return nil
	case older.Size == 0:
		return nil
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Hash, older.Size, older.Hash); err != nil {
		return fmt.Errorf("%w: the tree of %d records does not contain the one of %d (rewritten): %v", ErrInconsistent, newer.Size, older.Size, err)
	}
	return nil
}

// CheckInclusion checks that the record is leaf e.Seq-1 of the checkpoint's
// tree, with an inclusion proof.
func CheckInclusion(c Checkpoint, e api.AuditEvent, proof tlog.RecordProof) error {
	if e.Seq < 1 || e.Seq > c.Size {
		return fmt.Errorf("record %d is not in a tree of %d records", e.Seq, c.Size)
	}
	leaf, err := LeafHash(e)
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(proof, c.Size, c.Hash, e.Seq-1, leaf); err != nil {
		return fmt.Errorf("record %d is not in the checkpoint's tree (edited or not logged): %w", e.Seq, err)
	}
	return nil
}
