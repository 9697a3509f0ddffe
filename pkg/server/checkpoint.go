package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/store"
)

// checkpointer signs the audit tree's head, once per tree size.
type checkpointer struct {
	key *audit.Key
	st  store.TreeReader

	mu   sync.Mutex
	last audit.Checkpoint
	note []byte
}

// Latest returns the signed checkpoint of the tree as it is now.
func (c *checkpointer) Latest(ctx context.Context) (audit.Checkpoint, []byte, error) {
	size, root, err := store.TreeHead(ctx, c.st)
	if err != nil {
		return audit.Checkpoint{}, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.note != nil && c.last.Size == size && c.last.Hash == root {
		return c.last, c.note, nil
	}
	cp := audit.Checkpoint{Origin: c.key.Signer.Name(), Size: size, Hash: root}
	msg, err := audit.SignCheckpoint(cp, c.key.Signer)
	if err != nil {
		return audit.Checkpoint{}, nil, err
	}
	if size >= c.last.Size {
		c.last, c.note = cp, msg
	}
	return cp, msg, nil
}

// Checkpoint returns the signed checkpoint of the audit tree as it is now
// (for anchors); ok is false when the server has no signing key.
func (s *Server) Checkpoint(ctx context.Context) (cp audit.Checkpoint, note []byte, ok bool, err error) {
	if s.checkpoints == nil {
		return audit.Checkpoint{}, nil, false, nil
	}
	cp, note, err = s.checkpoints.Latest(ctx)
	return cp, note, true, err
}

func errNoCheckpoints() error {
	return &api.Error{Code: api.CodeNotFound, Message: "this server does not sign audit checkpoints",
		Hint: "an operator sets audit.signing_key_file (jit server keygen), see docs/security.md"}
}

func intParam(r *http.Request, name string, min int64) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min {
		return 0, false, &api.Error{Code: api.CodeInvalid, Message: name + " must be an integer of at least " + strconv.FormatInt(min, 10)}
	}
	return n, true, nil
}

// handleAuditKey publishes the checkpoint verifier key: public, so it needs
// no token.
func (s *Server) handleAuditKey(w http.ResponseWriter, r *http.Request) {
	if s.checkpoints == nil {
		s.fail(w, r, api.User{}, errNoCheckpoints())
		return
	}
	writeJSON(w, http.StatusOK, api.AuditKey{VerifierKey: s.checkpoints.key.VerifierKey})
}

// handleAuditCheckpoint returns the latest signed checkpoint, with the
// consistency proof from the tree of `from` records when asked. Any
// authenticated user may witness the log; the records stay admin-only.
func (s *Server) handleAuditCheckpoint(w http.ResponseWriter, r *http.Request, u api.User) {
	if s.checkpoints == nil {
		s.fail(w, r, u, errNoCheckpoints())
		return
	}
	from, hasFrom, err := intParam(r, "from", 0)
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	cp, note, err := s.checkpoints.Latest(r.Context())
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	out := api.AuditCheckpoint{Checkpoint: string(note)}
	if hasFrom && from > 0 && from < cp.Size {
		p, err := tlog.ProveTree(cp.Size, from, store.HashReader(r.Context(), s.opts.Store))
		if err != nil {
			s.fail(w, r, u, err)
			return
		}
		out.From, out.Consistency = from, p
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}

// handleAuditConsistency proves that the tree of `from` records is a prefix
// of the tree of `size` records.
func (s *Server) handleAuditConsistency(w http.ResponseWriter, r *http.Request, u api.User) {
	from, ok1, err1 := intParam(r, "from", 1)
	size, ok2, err2 := intParam(r, "size", 1)
	if err := firstErr(err1, err2); err != nil {
		s.fail(w, r, u, err)
		return
	}
	if !ok1 || !ok2 || from > size {
		s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: "from and size are required, 1 <= from <= size"})
		return
	}
	if !s.treeHas(w, r, u, size) {
		return
	}
	p, err := tlog.ProveTree(size, from, store.HashReader(r.Context(), s.opts.Store))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	writeJSON(w, http.StatusOK, api.AuditProof{From: from, Size: size, Proof: p})
}

// handleAuditInclusion proves that record seq is in the tree of `size`
// records. The proof holds hashes only; the record itself stays admin-only.
func (s *Server) handleAuditInclusion(w http.ResponseWriter, r *http.Request, u api.User) {
	seq, ok1, err1 := intParam(r, "seq", 1)
	size, ok2, err2 := intParam(r, "size", 1)
	if err := firstErr(err1, err2); err != nil {
		s.fail(w, r, u, err)
		return
	}
	if !ok1 || !ok2 || seq > size {
		s.fail(w, r, u, &api.Error{Code: api.CodeInvalid, Message: "seq and size are required, 1 <= seq <= size"})
		return
	}
	if !s.treeHas(w, r, u, size) {
		return
	}
	p, err := tlog.ProveRecord(size, seq-1, store.HashReader(r.Context(), s.opts.Store))
	if err != nil {
		s.fail(w, r, u, err)
		return
	}
	writeJSON(w, http.StatusOK, api.AuditProof{Seq: seq, Size: size, Proof: p})
}

func (s *Server) treeHas(w http.ResponseWriter, r *http.Request, u api.User, size int64) bool {
	n, err := s.opts.Store.AuditTreeSize(r.Context())
	if err != nil {
		s.fail(w, r, u, err)
		return false
	}
	if size > n {
		s.fail(w, r, u, &api.Error{Code: api.CodeNotFound, Message: "the audit log has only " + strconv.FormatInt(n, 10) + " records"})
		return false
	}
	return true
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// PublishCheckpoint signs the tree as it is now and appends it to the log
// as an audit.checkpoint event (delivered to webhooks like any event). It
// does nothing, and returns ok false, when the server has no signing key or
// nothing but that checkpoint event was logged since the last one.
func (s *Server) PublishCheckpoint(ctx context.Context) (cp audit.Checkpoint, note []byte, ok bool, err error) {
	if s.checkpoints == nil {
		return audit.Checkpoint{}, nil, false, nil
	}
	cp, note, err = s.checkpoints.Latest(ctx)
	if err != nil || cp.Size == 0 {
		return cp, note, false, err
	}
	last, err := s.opts.Store.Audit(ctx, store.AuditFilter{AfterSeq: cp.Size - 1, Limit: 1})
	if err != nil {
		return cp, note, false, err
	}
	if len(last) == 1 && last[0].Type == audit.TypeCheckpoint && last[0].Detail["size"] == strconv.FormatInt(cp.Size-1, 10) {
		return cp, note, false, nil // the newest record is the checkpoint of everything before it
	}
	err = s.append(ctx, audit.Event{Time: s.now(), Type: audit.TypeCheckpoint, Actor: "server",
		Detail: map[string]string{"checkpoint": string(note), "size": strconv.FormatInt(cp.Size, 10), "root": cp.Hash.String()}})
	return cp, note, err == nil, err
}

// CheckpointVerifierKey is the verifier key of the checkpoints the server
// signs ("" without a signing key).
func (s *Server) CheckpointVerifierKey() string {
	if s.checkpoints == nil {
		return ""
	}
	return s.checkpoints.key.VerifierKey
}

// ProveTree proves that the audit tree of from records is a prefix of the
// tree of size records (both at most the tree's size now).
func (s *Server) ProveTree(ctx context.Context, size, from int64) (tlog.TreeProof, error) {
	return tlog.ProveTree(size, from, store.HashReader(ctx, s.opts.Store))
}
