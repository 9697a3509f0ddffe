package store

import (
	"context"
	"fmt"
	"math/bits"
	"sort"

	"golang.org/x/mod/sumdb/tlog"
)

// The audit log's Merkle tree is kept as tlog's hash storage: every stored
// hash (tlog.StoredHashIndex) is one row of the store's audit_tree table,
// written in the transaction that appends its record. Leaf n-1 is the record
// with Seq n and hashes audit.RecordBytes of it: the body the store keeps.

// StoredHash is one row of a tree's hash storage.
type StoredHash struct {
	Index int64
	Hash  tlog.Hash
}

// TreeReader reads the audit tree's stored hashes (part of Store).
type TreeReader interface {
	// AuditTreeSize returns the number of records in the tree: the head's
	// seq (appends write records and their hashes in one transaction).
	AuditTreeSize(ctx context.Context) (int64, error)
	// ReadTreeHashes returns the stored hashes at indexes (tlog.HashReader
	// semantics: one hash per index, in order, or an error).
	ReadTreeHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
}

// HashReader adapts a TreeReader to tlog.HashReader for one context.
func HashReader(ctx context.Context, r TreeReader) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) { return r.ReadTreeHashes(ctx, indexes) })
}

// TreeHead returns the tree's size and root hash.
func TreeHead(ctx context.Context, r TreeReader) (int64, tlog.Hash, error) {
	n, err := r.AuditTreeSize(ctx)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	h, err := tlog.TreeHash(n, HashReader(ctx, r))
	if err != nil {
		return 0, tlog.Hash{}, fmt.Errorf("audit tree hash at %d: %w", n, err)
	}
	return n, h, nil
}

// FrontierIndexes are the stored-hash indexes of the complete subtrees that
// make up a tree of n records: the only older hashes that appending after
// record n ever reads.
func FrontierIndexes(n int64) []int64 {
	var out []int64
	for level := 63 - bits.LeadingZeros64(uint64(n)); level >= 0; level-- {
		if n>>level&1 == 1 {
			out = append(out, tlog.StoredHashIndex(level, n>>level-1))
		}
	}
	return out
}

// TreeSizeForHashCount inverts tlog.StoredHashCount: the tree size whose
// hash storage holds exactly count hashes, or an error when no size does
// (a half-written append).
func TreeSizeForHashCount(count int64) (int64, error) {
	n := int64(sort.Search(int(count/2+66), func(n int) bool { return tlog.StoredHashCount(int64(n)) >= count }))
	if tlog.StoredHashCount(n) != count {
		return 0, fmt.Errorf("audit tree: %d stored hashes is no tree's count", count)
	}
	return n, nil
}

// TreeAppender computes the stored hashes of leaves appended after a tree of
// Size records. Prefetch reads the tree's frontier with read in one call;
// after it, appends need no further reads.
type TreeAppender struct {
	Size  int64
	Added []StoredHash // hashes to store, in index order
	known map[int64]tlog.Hash
	read  func([]int64) ([]tlog.Hash, error)
}

// NewTreeAppender starts appending after a tree of size records whose
// stored hashes read returns.
func NewTreeAppender(size int64, read func([]int64) ([]tlog.Hash, error)) *TreeAppender {
	return &TreeAppender{Size: size, known: map[int64]tlog.Hash{}, read: read}
}

// Prefetch reads the frontier of the tree, so that appending reads nothing.
func (a *TreeAppender) Prefetch() error {
	idx := FrontierIndexes(a.Size)
	if len(idx) == 0 {
		return nil
	}
	hs, err := a.read(idx)
	if err != nil {
		return fmt.Errorf("read the audit tree's frontier: %w", err)
	}
	for i, x := range idx {
		a.known[x] = hs[i]
	}
	return nil
}

// Append adds the leaf of a record's canonical bytes.
func (a *TreeAppender) Append(record []byte) error {
	hs, err := tlog.StoredHashes(a.Size, record, a)
	if err != nil {
		return fmt.Errorf("audit tree append %d: %w", a.Size+1, err)
	}
	base := tlog.StoredHashCount(a.Size)
	for i, h := range hs {
		a.known[base+int64(i)] = h
		a.Added = append(a.Added, StoredHash{Index: base + int64(i), Hash: h})
	}
	a.Size++
	return nil
}

// ReadHashes implements tlog.HashReader: known hashes first, then read.
func (a *TreeAppender) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var miss []int64
	for i, x := range indexes {
		h, ok := a.known[x]
		if !ok {
			miss = append(miss, x)
			continue
		}
		out[i] = h
	}
	if len(miss) == 0 {
		return out, nil
	}
	hs, err := a.read(miss)
	if err != nil {
		return nil, err
	}
	for i, x := range miss {
		a.known[x] = hs[i]
	}
	for i, x := range indexes {
		out[i] = a.known[x]
	}
	return out, nil
}

// Seed adds known hashes (e.g. a frontier kept in memory), so that Prefetch
// is not needed.
func (a *TreeAppender) Seed(known map[int64]tlog.Hash) {
	for k, v := range known {
		a.known[k] = v
	}
}

// Mark returns the appender's position, for Rewind.
func (a *TreeAppender) Mark() (size int64, added int) { return a.Size, len(a.Added) }

// Rewind undoes the appends after Mark (an operation rolled back to its
// savepoint). Hashes it computed stay cached but are never read: the next
// append at that size overwrites exactly the same indexes.
func (a *TreeAppender) Rewind(size int64, added int) {
	a.Size, a.Added = size, a.Added[:added]
}

// Frontier returns the frontier hashes of the tree appended so far.
func (a *TreeAppender) Frontier() (map[int64]tlog.Hash, error) {
	idx := FrontierIndexes(a.Size)
	hs, err := a.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		out[x] = hs[i]
	}
	return out, nil
}

// HashRows collects the rows a store read from its audit_tree table and
// returns the hashes of indexes in their order: one place checks each hash's
// size and that none is missing, whatever the database driver.
type HashRows map[int64][]byte

// Ordered returns the hashes of indexes, in order.
func (h HashRows) Ordered(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		b, ok := h[x]
		if !ok {
			return nil, fmt.Errorf("audit tree hash %d is missing", x)
		}
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("audit tree hash %d has %d bytes", x, len(b))
		}
		out[i] = tlog.Hash(b)
	}
	return out, nil
}
