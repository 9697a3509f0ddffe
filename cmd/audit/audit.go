// Package audit is `jit audit`: query and export the server's hash-chained
// audit log, and verify a chain (from the server, a JSON-lines export, or
// the store itself) so that an edited, inserted or removed record is found.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/ocsf"
	"github.com/jit-access/jit/pkg/session"
	"github.com/jit-access/jit/pkg/witness"
)

// StoreReader reads the audit log of the store a DSN names for `jit audit
// verify --store`: the store's own tree head as a checkpoint, and each
// record in order until each returns false. The jit binary wires in
// storeopen.ReadAudit; this package never links the store itself.
type StoreReader func(ctx context.Context, dsn string, each func(api.AuditEvent) bool) (jitaudit.Checkpoint, error)

// NewCmdAudit builds `jit audit` and its subcommands; readStore serves
// `verify --store` (nil: --store is refused).
func NewCmdAudit(f *cmdutil.Factory, readStore StoreReader) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Query, export and verify the audit log", GroupID: "admin"}
	cmd.AddCommand(NewCmdQuery(f, nil), NewCmdExport(f, nil), NewCmdVerify(f, readStore, nil))
	return cmd
}

// Filter narrows the events query and export read.
type Filter struct {
	Since                     time.Duration
	User, Role, Request, Type string
}

func (fl *Filter) flags(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&fl.Since, "since", 0, "only events newer than this (e.g. 24h)")
	cmd.Flags().StringVar(&fl.User, "user", "", "only events by or about this user")
	cmd.Flags().StringVar(&fl.Role, "role", "", "only events of this role")
	cmd.Flags().StringVar(&fl.Request, "request", "", "only events of this request")
	cmd.Flags().StringVar(&fl.Type, "type", "", "only events of this type (e.g. credentials.vended)")
}

func (fl *Filter) query(now time.Time) url.Values {
	q := url.Values{}
	if fl.Since > 0 {
		q.Set("since", now.Add(-fl.Since).UTC().Format(time.RFC3339))
	}
	for k, v := range map[string]string{"user": fl.User, "role": fl.Role, "request": fl.Request, "type": fl.Type} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// QueryOptions are `jit audit query`'s inputs.
type QueryOptions struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Now     func() time.Time

	Filter Filter
	Limit  int
	Output string
}

// NewCmdQuery builds `jit audit query`.
func NewCmdQuery(f *cmdutil.Factory, runF func(context.Context, *QueryOptions) error) *cobra.Command {
	opts := &QueryOptions{IO: f.IO, Session: f.Session, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Show audit events (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return QueryRun(cmd.Context(), opts)
		},
	}
	opts.Filter.flags(cmd)
	cmd.Flags().IntVar(&opts.Limit, "limit", 100, "at most this many")
	cmdutil.AddOutputFlag(cmd, &opts.Output, "table", cmdutil.OutputJSON)
	return cmd
}

// QueryRun prints the matching events as a table, or JSON with -o json.
func QueryRun(ctx context.Context, opts *QueryOptions) error {
	client, err := apiClient(opts.Session)
	if err != nil {
		return err
	}
	q := opts.Filter.query(opts.Now())
	q.Set("limit", strconv.Itoa(opts.Limit))
	out, err := client.Audit(ctx, q)
	if err != nil {
		return err
	}
	return cmdutil.Render(opts.IO.Out, opts.Output, out.Events, func(w io.Writer) error {
		return table(w, out.Events)
	})
}

func apiClient(sess func() (*session.Session, error)) (*apiclient.Client, error) {
	s, err := sess()
	if err != nil {
		return nil, err
	}
	return s.API()
}

func table(w io.Writer, events []api.AuditEvent) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tACTOR\tROLE\tREQUEST\tREASON")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format(time.DateTime), e.Type, e.Actor, e.Role, e.RequestID, e.Reason)
	}
	return tw.Flush()
}

// ExportOptions are `jit audit export`'s inputs.
type ExportOptions struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Now     func() time.Time

	Filter Filter
	// Format is jsonl (jit's records, what jit audit verify reads) or ocsf.
	Format string
}

// NewCmdExport builds `jit audit export`.
func NewCmdExport(f *cmdutil.Factory, runF func(context.Context, *ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IO, Session: f.Session, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "export > audit.jsonl",
		Short: "Stream the audit log as JSON lines (admins), for SIEMs and jit audit verify",
		Args:  cobra.NoArgs,
		Long: `Stream the audit log as JSON lines (admins only): jit's own records by default,
which jit audit verify checks, or with --format ocsf one Open Cybersecurity
Schema Framework (OCSF 1.8.0) event per record, for SIEMs (docs/siem.md).`,
		Example: "  jit audit export > audit.jsonl && jit audit verify --file audit.jsonl\n  jit audit export --format ocsf --since 24h > audit.ocsf.jsonl",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return ExportRun(cmd.Context(), opts)
		},
	}
	opts.Filter.flags(cmd)
	cmdutil.AddFormatFlag(cmd, &opts.Format, "format", "", "jsonl", "ocsf")
	return cmd
}

// ExportRun streams the matching events to stdout as JSON lines.
func ExportRun(ctx context.Context, opts *ExportOptions) error {
	client, err := apiClient(opts.Session)
	if err != nil {
		return err
	}
	if opts.Format != "ocsf" {
		return client.AuditExport(ctx, opts.Filter.query(opts.Now()), opts.IO.Out)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(client.AuditExport(ctx, opts.Filter.query(opts.Now()), pw)) }()
	err = ocsf.WriteJSONLines(opts.IO.Out, pr, build.Version)
	pr.CloseWithError(err) // stops the export if the conversion failed
	return err
}

// VerifyOptions are `jit audit verify`'s inputs.
type VerifyOptions struct {
	IO        *iostreams.IOStreams
	Env       func(string) string
	Session   func() (*session.Session, error)
	ServerURL func() (string, error)
	// ReadStore serves --store (nil: refused).
	ReadStore StoreReader

	File, DSN, Head string
	Checkpoint, Key string
}

// NewCmdVerify builds `jit audit verify`.
func NewCmdVerify(f *cmdutil.Factory, readStore StoreReader, runF func(context.Context, *VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Env: f.Env, Session: f.Session, ServerURL: f.ServerURL, ReadStore: readStore}
	cmd := &cobra.Command{
		Use:   "verify [--file audit.jsonl [--checkpoint FILE] | --store DSN] [--head SEQ:HASH]",
		Short: "Verify the audit log: its hash chain, its Merkle tree against a signed checkpoint, and that it extends what this client saw before",
		Long: `Verify the audit log. By default it reads the server's export (admins), fetches
the server's signed checkpoint and checks that it extends the newest checkpoint
this client verified before (a consistency proof): a log rolled back or
rewritten since fails loudly with both checkpoints. Then it checks every
record's hash chain and that the records hash to the checkpoint's tree.

Offline: --file reads a JSON-lines export ("-" for stdin) and --checkpoint a
signed checkpoint saved earlier (e.g. from the object-lock bucket); the key is
--key or the one pinned for the configured server. --store reads the store
directly: the chain and the store's own tree. --head SEQ:HASH checks a chain head
recorded earlier.

Re-pin a new checkpoint key (after the operators rotated it): --key NEWKEY against
the server pins it only if its checkpoint extends the newest one witnessed under
the old key. Any signed-in user may do it; for non-admins only the checkpoint and
its proof are checked (the records are for admins).`,
		Example: "  jit audit verify\n  jit audit verify --file audit.jsonl --checkpoint checkpoint.txt --key \"$(cat jit.vkey)\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return VerifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.File, "file", "", "a JSON-lines export to verify (- for stdin)")
	cmd.Flags().StringVar(&opts.DSN, "store", "", "verify the store directly (sqlite path or postgres:// DSN)")
	cmd.Flags().StringVar(&opts.Head, "head", "", "a head recorded earlier, SEQ:HASH, to detect a cut-off tail")
	cmd.Flags().StringVar(&opts.Checkpoint, "checkpoint", "", "a signed checkpoint file the --file export must match")
	cmd.Flags().StringVar(&opts.Key, "key", "", "the checkpoints' verifier key (default: the key pinned for the server); against the server, pins it after a consistency check")
	return cmd
}

// records feeds a chain verifier and a Merkle tree.
type records struct {
	v    *jitaudit.Verifier
	tree jitaudit.MemoryTree
	err  error
}

func (r *records) add(e api.AuditEvent) bool {
	if r.v.Add(e) != nil {
		return false
	}
	leaf, err := jitaudit.LeafHash(e)
	if err == nil {
		err = r.tree.Append(leaf)
	}
	if err != nil {
		r.err = err
		return false
	}
	return true
}

// VerifyRun reads the log (server, file or store), checks its chain, its
// tree against the checkpoint and --head, and prints OK lines on stdout or
// FAILED on stderr.
func VerifyRun(ctx context.Context, opts *VerifyOptions) error {
	rec := &records{v: jitaudit.NewVerifier()}
	cp, witnessed, err := readLog(ctx, opts, rec)
	if errors.Is(err, errWitnessOnly) {
		fmt.Fprintf(opts.IO.Out, "OK: checkpoint %s%s\n", witnessed.Current, witnessLine(witnessed))
		fmt.Fprintln(opts.IO.ErrOut, "note: the records are for admins; their hash chain and tree were not checked")
		return nil
	}
	if err != nil {
		return err
	}
	if rec.err != nil {
		return rec.err
	}
	return verifyReport(opts, rec, cp, witnessed)
}

// readLog feeds the log from the file, the store or the server into rec
// and returns the checkpoint to check its tree against (nil: none) and,
// from the server, what the witness saw.
func readLog(ctx context.Context, opts *VerifyOptions, rec *records) (*jitaudit.Checkpoint, *witness.Result, error) {
	switch {
	case opts.File != "":
		cp, err := readFileLog(opts, rec)
		return cp, nil, err
	case opts.DSN != "":
		if opts.ReadStore == nil {
			return nil, nil, cmdutil.FlagErrorf("--store is not available in this build")
		}
		c, err := opts.ReadStore(ctx, opts.DSN, rec.add)
		if err != nil {
			return nil, nil, err
		}
		return &c, nil, nil
	default:
		return readServerLog(ctx, opts, rec)
	}
}

// readFileLog reads an exported log (--file, "-" for stdin) and the
// offline --checkpoint when one is given.
func readFileLog(opts *VerifyOptions, rec *records) (*jitaudit.Checkpoint, error) {
	var cp *jitaudit.Checkpoint
	if opts.Checkpoint != "" {
		c, err := offlineCheckpoint(opts)
		if err != nil {
			return nil, err
		}
		cp = &c
	}
	var r io.Reader = opts.IO.In
	if opts.File != "-" {
		fh, err := os.Open(opts.File)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	for e, err := range jitaudit.ReadJSONL(r) {
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", opts.File, err)
		}
		if !rec.add(e) {
			break
		}
	}
	return cp, nil
}

// readServerLog reads the server's checkpoint (witnessed) and then its
// export.
func readServerLog(ctx context.Context, opts *VerifyOptions, rec *records) (*jitaudit.Checkpoint, *witness.Result, error) {
	var cp *jitaudit.Checkpoint
	s, err := opts.Session()
	if err != nil {
		return nil, nil, err
	}
	client, err := s.API()
	if err != nil {
		return nil, nil, err
	}
	// The checkpoint first: the export read after it holds at least its
	// records.
	witnessed, err := observe(ctx, opts, s.Server, client)
	if err != nil {
		return nil, nil, err
	}
	if witnessed != nil {
		cp = &witnessed.Current
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(client.AuditExport(ctx, url.Values{}, pw)) }()
	for e, err := range jitaudit.ReadJSONL(pr) {
		if err != nil {
			pr.Close()
			if witnessed != nil && apiclient.IsCode(err, api.CodeForbidden) {
				// Any signed-in user witnesses the log (and re-pins a key);
				// only the records are for admins.
				return nil, witnessed, errWitnessOnly
			}
			return nil, nil, err
		}
		if !rec.add(e) {
			break
		}
	}
	pr.Close()
	return cp, witnessed, nil
}

// verifyReport checks the chain, --head and the tree against cp, and
// prints OK lines on stdout or FAILED on stderr.
func verifyReport(opts *VerifyOptions, rec *records, cp *jitaudit.Checkpoint, witnessed *witness.Result) error {
	rep := rec.v.Result()
	if rep.Err == nil && opts.Head != "" {
		var seq int64
		var hash string
		if _, err := fmt.Sscanf(opts.Head, "%d:%s", &seq, &hash); err != nil {
			return cmdutil.FlagErrorf("--head must be SEQ:HASH, as printed by a previous verify")
		}
		if err := rec.v.VerifyHead(seq, hash); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "FAILED: %v\n", err)
			return cmdutil.ErrSilent
		}
	}
	if rep.Err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "FAILED after %d good record(s): %v\n", rep.Count, rep.Err)
		return cmdutil.ErrSilent
	}
	if cp != nil {
		if err := checkTree(&rec.tree, *cp); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "FAILED: %v\n  checkpoint: %s\n", err, cp)
			return cmdutil.ErrSilent
		}
	}
	fmt.Fprintf(opts.IO.Out, "OK: %d record(s); head %d:%s\n", rep.Count, rep.HeadSeq, rep.HeadHash)
	if cp != nil {
		fmt.Fprintf(opts.IO.Out, "OK: records match checkpoint %s%s\n", cp, witnessLine(witnessed))
	}
	return nil
}

// errWitnessOnly: the checkpoint was witnessed, the records are not ours
// to read.
var errWitnessOnly = errors.New("witnessed the checkpoint; the records are for admins")

// witnessLine says what the witness saw, after an OK line.
func witnessLine(witnessed *witness.Result) string {
	switch {
	case witnessed == nil:
		return ""
	case witnessed.Repinned != "" && witnessed.Previous.Size > 0:
		return fmt.Sprintf("; extends the newest checkpoint of the key pinned before (size %d): the new key is pinned", witnessed.Previous.Size)
	case witnessed.Repinned != "":
		return "; nothing was witnessed under the key pinned before: the new key is pinned"
	case witnessed.First:
		return "; first seen, witnessed from now on"
	}
	return fmt.Sprintf("; extends the one witnessed before (size %d)", witnessed.Previous.Size)
}

// checkTree checks that the records' Merkle tree at the checkpoint's size
// has the checkpoint's root: an edited, inserted or removed record changes
// the root even when the chain was recomputed.
func checkTree(t *jitaudit.MemoryTree, cp jitaudit.Checkpoint) error {
	if t.Size() < cp.Size {
		return fmt.Errorf("the log has %d record(s) but the checkpoint covers %d: records were removed", t.Size(), cp.Size)
	}
	root, err := t.Root(cp.Size)
	if err != nil {
		return err
	}
	if root != cp.Hash {
		return fmt.Errorf("the first %d record(s) hash to root %s, not the checkpoint's: records were edited or replaced", cp.Size, root)
	}
	return nil
}

// observe witnesses the server's checkpoint. A server that signs no
// checkpoints yields nil (chain-only verification, said on stderr).
func observe(ctx context.Context, opts *VerifyOptions, server string, client *apiclient.Client) (*witness.Result, error) {
	dir, err := witness.Dir(opts.Env)
	if err != nil {
		return nil, err
	}
	w := &witness.Witness{Dir: dir}
	res, err := w.Observe(ctx, server, client, opts.Key)
	var inc *witness.InconsistentError
	switch {
	case err == nil:
		return res, nil
	case apiclient.IsCode(err, api.CodeNotFound):
		fmt.Fprintf(opts.IO.ErrOut, "note: %s signs no audit checkpoints; checking the hash chain only\n", server)
		return nil, nil
	case errors.As(err, &inc):
		fmt.Fprintf(opts.IO.ErrOut, "FAILED: %v\n\nwitnessed before:\n%s\nserved now:\n%s\n", inc, inc.PreviousNote, inc.CurrentNote)
		hint := "the server's audit history was rolled back or rewritten after this client saw it; keep both checkpoints above as evidence and tell the security team"
		if opts.Key != "" {
			hint = "the log signed by the new key does not extend the newest checkpoint of the key pinned before, so the new key was NOT pinned: a key rotation must not cover a rolled-back log; keep both checkpoints above as evidence and tell the security team"
		}
		return nil, cmdutil.WithHint(jitaudit.ErrInconsistent, cmdutil.ExitError, "%s", hint)
	case errors.Is(err, witness.ErrUnproven):
		fmt.Fprintf(opts.IO.ErrOut, "FAILED: %v\n", err)
		return nil, cmdutil.WithHint(witness.ErrUnproven, cmdutil.ExitError,
			"the server served signed checkpoints before and now cannot prove its log extends them; retry later, and if it persists tell the security team (the tree hashes may have been deleted)")
	case errors.Is(err, jitaudit.ErrCheckpointSignature):
		msg := fmt.Sprintf("the server signs with a key other than the one pinned in %s", dir)
		if kerr := w.CheckKey(ctx, server, client, opts.Key); errors.Is(kerr, witness.ErrKeyChanged) {
			msg = kerr.Error()
		}
		return nil, cmdutil.WithHint(err, cmdutil.ExitError,
			"%s; if the operators announced the new key, pin it with jit audit verify --key NEWKEY (it is pinned only if its log extends what this client witnessed)", msg)
	}
	return nil, err
}

// offlineCheckpoint reads --checkpoint with --key or the pinned key.
func offlineCheckpoint(opts *VerifyOptions) (jitaudit.Checkpoint, error) {
	msg, err := os.ReadFile(opts.Checkpoint)
	if err != nil {
		return jitaudit.Checkpoint{}, err
	}
	key := opts.Key
	if key == "" {
		if server, err := opts.ServerURL(); err == nil {
			if dir, err := witness.Dir(opts.Env); err == nil {
				key, _ = (&witness.Witness{Dir: dir}).PinnedKey(server)
			}
		}
	}
	if key == "" {
		return jitaudit.Checkpoint{}, cmdutil.FlagErrorf("--checkpoint needs --key (the server's verifier key: GET /v1/audit/key, or jit server keygen's output)")
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return jitaudit.Checkpoint{}, cmdutil.FlagErrorf("--key: %v", err)
	}
	cp, err := jitaudit.OpenCheckpoint(msg, v)
	if err != nil {
		return jitaudit.Checkpoint{}, fmt.Errorf("%s: %w", opts.Checkpoint, err)
	}
	return cp, nil
}
