// Package witness makes every jit client a witness of its server's audit
// log: it keeps, per server and checkpoint key, the newest signed checkpoint
// it has verified, and checks that each newer checkpoint extends it (a
// consistency proof). A server whose log was rolled back or rewritten after
// this client saw it cannot show a consistent history again.
//
// Trust in the key is on first use: the first verifier key a server
// publishes is pinned, and a later different key is refused until the user
// pins it (jit audit verify --key NEW), which the witness allows only when
// the new key's checkpoint extends the old key's newest one.
package witness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/audit"
)

// Dir is where checkpoints are kept: $JIT_WITNESS_DIR, else
// $XDG_STATE_HOME/jit/witness, else ~/.local/state/jit/witness.
func Dir(env func(string) string) (string, error) {
	if d := env("JIT_WITNESS_DIR"); d != "" {
		return d, nil
	}
	if x := env("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "jit", "witness"), nil
	}
	home := env("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the witness directory: %w (set JIT_WITNESS_DIR)", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "jit", "witness"), nil
}

// Client is the part of the server API a witness uses.
type Client interface {
	AuditKey(ctx context.Context) (string, error)
	AuditCheckpoint(ctx context.Context, from int64) (*api.AuditCheckpoint, error)
}

// Witness keeps checkpoints under Dir.
type Witness struct {
	Dir string
}

// ErrKeyChanged is returned when the server's checkpoint key is not the one
// pinned for it: the history witnessed under the old key cannot be checked.
var ErrKeyChanged = errors.New("the server's audit checkpoint key changed")

// serverDir is one server's directory: host (and port, path) made safe,
// plus a short hash of the whole URL so that two URLs never share one.
func (w *Witness) serverDir(server string) string {
	name := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		name = u.Host + u.Path
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, name)
	sum := sha256.Sum256([]byte(server))
	return filepath.Join(w.Dir, name+"-"+hex.EncodeToString(sum[:4]))
}

func keyFile(v note.Verifier) string {
	return fmt.Sprintf("%s-%08x.checkpoint", strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' {
			return '_'
		}
		return r
	}, v.Name()), v.KeyHash())
}

// PinnedKey returns the verifier key pinned for server, "" if none.
func (w *Witness) PinnedKey(server string) (string, error) {
	b, err := os.ReadFile(filepath.Join(w.serverDir(server), "key"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the pinned audit key: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Pin records vkey as server's checkpoint key.
func (w *Witness) Pin(server, vkey string) error {
	return writeFile(filepath.Join(w.serverDir(server), "key"), []byte(vkey+"\n"))
}

// Load returns the newest checkpoint verified for server under v, and
// whether there is one. A stored checkpoint that no longer verifies (the
// file was tampered with) is an error.
func (w *Witness) Load(server string, v note.Verifier) (audit.Checkpoint, []byte, bool, error) {
	path := filepath.Join(w.serverDir(server), keyFile(v))
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return audit.Checkpoint{}, nil, false, nil
	}
	if err != nil {
		return audit.Checkpoint{}, nil, false, fmt.Errorf("read witnessed checkpoint: %w", err)
	}
	cp, err := audit.OpenCheckpoint(b, v)
	if err != nil {
		return audit.Checkpoint{}, nil, false, fmt.Errorf("witnessed checkpoint %s: %w", path, err)
	}
	return cp, b, true, nil
}

// Save stores a verified checkpoint note as server's newest under v.
func (w *Witness) Save(server string, v note.Verifier, msg []byte) error {
	return writeFile(filepath.Join(w.serverDir(server), keyFile(v)), msg)
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("witness: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("witness: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("witness: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("witness: %w", err)
	}
	return nil
}

// Result is what one observation saw.
type Result struct {
	Key      string           // the verifier key used
	Previous audit.Checkpoint // the checkpoint witnessed before (Size 0: none)
	Current  audit.Checkpoint // the server's checkpoint now
	Note     []byte           // Current as a signed note
	First    bool             // nothing was witnessed before
	// Repinned is the key pinned before when this observation pinned a new
	// one (Previous is then that key's newest checkpoint).
	Repinned string
}

// InconsistentError says the server's log does not extend what this client
// witnessed before: rolled back or rewritten. It carries both checkpoints.
type InconsistentError struct {
	Server            string
	Previous, Current audit.Checkpoint
	PreviousNote      []byte
	CurrentNote       []byte
	Err               error
}

func (e *InconsistentError) Error() string {
	return fmt.Sprintf("audit log of %s: %v", e.Server, e.Err)
}

func (e *InconsistentError) Unwrap() error { return e.Err }

// ErrUnproven is returned when a server that served checkpoints before
// does not prove that its log extends the one witnessed: an error answer
// (a 503, a 500 because tree hashes were deleted), a proof from another
// size, no proof, or a checkpoint that does not parse. A server that cannot
// prove its history is treated like one that lies about it: the witness
// warns. Not reaching the server at all is not this error.
var ErrUnproven = errors.New("the server did not prove that its audit log extends the checkpoint witnessed before")

// UnprovenError carries the checkpoint the server failed to extend.
type UnprovenError struct {
	Server   string
	Previous audit.Checkpoint
	Err      error
}

func (e *UnprovenError) Error() string {
	return fmt.Sprintf("audit log of %s: %v (witnessed %s): %v", e.Server, ErrUnproven, e.Previous, e.Err)
}

func (e *UnprovenError) Unwrap() []error { return []error{ErrUnproven, e.Err} }

// Observe fetches the server's checkpoint with the consistency proof from
// the one witnessed before, verifies both, and stores the new one. pinned,
// when set, is the verifier key to use (--key); otherwise the key pinned on
// first use is used, fetched from the server the first time. A pinned key
// other than the one pinned before is a re-pin: the new key's checkpoint
// must extend the old key's newest checkpoint (size and root do not depend
// on the key), and only then is the new key pinned. A checkpoint signed by
// another key, a key change, an inconsistent history and a history the
// server does not prove are errors; nothing is stored then.
func (w *Witness) Observe(ctx context.Context, server string, c Client, pinned string) (*Result, error) {
	vkey, oldKey, err := w.key(ctx, server, c, pinned)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint key %q: %w", vkey, err)
	}
	prev, prevNote, seen, err := w.Load(server, v)
	if err != nil {
		return nil, err
	}
	if oldKey != "" {
		// Re-pin: what the old key witnessed is what the new one must extend.
		ov, err := note.NewVerifier(oldKey)
		if err != nil {
			return nil, fmt.Errorf("the audit key pinned before %q: %w", oldKey, err)
		}
		oldCP, oldNote, oldSeen, err := w.Load(server, ov)
		if err != nil {
			return nil, err
		}
		if oldSeen && (!seen || oldCP.Size > prev.Size) {
			prev, prevNote, seen = oldCP, oldNote, true
		}
	}
	got, err := c.AuditCheckpoint(ctx, prev.Size)
	var coded interface{ Code() string }
	if err != nil && seen && errors.As(err, &coded) && coded.Code() == api.CodeNotFound {
		// A server that signed checkpoints before and now has none would
		// otherwise escape every witness by turning them off.
		return nil, &InconsistentError{Server: server, Previous: prev, PreviousNote: prevNote,
			Err: fmt.Errorf("%w: the server served checkpoints up to size %d and now serves none", audit.ErrInconsistent, prev.Size)}
	}
	if err != nil && seen && errors.As(err, &coded) {
		return nil, &UnprovenError{Server: server, Previous: prev, Err: err}
	}
	if err != nil {
		return nil, err
	}
	cur, err := audit.OpenCheckpoint([]byte(got.Checkpoint), v)
	if err != nil {
		if seen && !errors.Is(err, audit.ErrCheckpointSignature) {
			return nil, &UnprovenError{Server: server, Previous: prev, Err: err}
		}
		return nil, err
	}
	res := &Result{Key: vkey, Previous: prev, Current: cur, Note: []byte(got.Checkpoint), First: !seen, Repinned: oldKey}
	if seen {
		if cur.Size > prev.Size && got.From != prev.Size {
			return nil, &UnprovenError{Server: server, Previous: prev,
				Err: fmt.Errorf("it sent a consistency proof from size %d, not from %d", got.From, prev.Size)}
		}
		// Every log extends the empty one: from size 0 there is nothing
		// to prove (and no proof to send).
		if cur.Size > prev.Size && prev.Size > 0 && len(got.Consistency) == 0 {
			return nil, &UnprovenError{Server: server, Previous: prev, Err: errors.New("it sent no consistency proof")}
		}
		if err := audit.CheckConsistency(prev, cur, got.Consistency); err != nil {
			if oldKey != "" {
				err = fmt.Errorf("%w; the new key %s is NOT pinned: a new key must not cover a rolled-back log", err, vkey)
			}
			return nil, &InconsistentError{Server: server, Previous: prev, Current: cur, PreviousNote: prevNote, CurrentNote: res.Note, Err: err}
		}
	}
	if !seen || cur.Size > prev.Size || oldKey != "" {
		if err := w.Save(server, v, res.Note); err != nil {
			return nil, err
		}
	}
	if oldKey != "" || pinned != "" {
		if err := w.Pin(server, vkey); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// key returns the verifier key to use and, when pinned names another key
// than the one pinned before, that old key.
func (w *Witness) key(ctx context.Context, server string, c Client, pinned string) (vkey, old string, err error) {
	stored, err := w.PinnedKey(server)
	if err != nil {
		return "", "", err
	}
	if pinned != "" {
		if stored != "" && stored != pinned {
			return pinned, stored, nil
		}
		return pinned, "", nil
	}
	if stored != "" {
		return stored, "", nil
	}
	k, err := c.AuditKey(ctx)
	if err != nil {
		return "", "", err
	}
	if _, err := note.NewVerifier(k); err != nil {
		return "", "", fmt.Errorf("server's audit key %q: %w", k, err)
	}
	return k, "", w.Pin(server, k)
}

// CheckKey compares the server's published key with the pinned one. A
// different key is ErrKeyChanged: a client that pinned a key never follows a
// change silently.
func (w *Witness) CheckKey(ctx context.Context, server string, c Client, pinned string) error {
	vkey, _, err := w.key(ctx, server, c, pinned)
	if err != nil {
		return err
	}
	k, err := c.AuditKey(ctx)
	if err != nil {
		return err
	}
	if k != vkey {
		return fmt.Errorf("%w: pinned %s, the server publishes %s", ErrKeyChanged, vkey, k)
	}
	return nil
}

// CheckTimeout bounds the background check of ordinary commands.
const CheckTimeout = 2 * time.Second

// Background starts the cheap witness check of an ordinary command (one
// small GET, bounded by CheckTimeout) and returns a function that waits for
// it and prints a warning to warn when the server's log is inconsistent
// with what this client witnessed, or its checkpoint is not signed by the
// pinned key. Anything else (a server without checkpoints, a timeout, an
// unreachable server) is silent: the check never gets in the way of the
// command. dir nil disables the check.
func Background(ctx context.Context, dir func() (string, error), server string, c Client, warn io.Writer) (wait func()) {
	if dir == nil {
		return func() {}
	}
	d, err := dir()
	if err != nil {
		return func() {}
	}
	w := &Witness{Dir: d}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CheckTimeout)
	done := make(chan error, 1)
	go func() { _, err := w.Observe(ctx, server, c, ""); done <- err }()
	return func() {
		defer cancel()
		err := <-done
		var inc *InconsistentError
		switch {
		case errors.As(err, &inc):
			fmt.Fprintf(warn, "WARNING: %v\n  witnessed: %s\n  now:       %s\n  Try: jit audit verify (and tell the server's operators)\n", inc, inc.Previous, inc.Current)
		case errors.Is(err, ErrUnproven):
			fmt.Fprintf(warn, "WARNING: %v\n  Try: jit audit verify (and tell the server's operators)\n", err)
		case errors.Is(err, audit.ErrCheckpointSignature):
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CheckTimeout)
			defer cancel()
			if kerr := w.CheckKey(ctx, server, c, ""); errors.Is(kerr, ErrKeyChanged) {
				fmt.Fprintf(warn, "WARNING: the audit checkpoint key of %s changed: %v\n  Try: if the operators announced the new key, pin it with: jit audit verify --key NEWKEY (it must extend what this client witnessed)\n", server, kerr)
				return
			}
			fmt.Fprintf(warn, "WARNING: the audit checkpoint of %s is not signed by the key this client pinned: %v\n  Try: jit audit verify\n", server, err)
		}
	}
}
