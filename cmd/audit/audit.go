// Package audit is `jit audit`: query and export the server's hash-chained
// audit log, and verify a chain (from the server, a JSON-lines export, or
// the store itself) so that an edited, inserted or removed record is found.
package audit

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/api"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/store"
	"github.com/jit-access/jit/pkg/store/storeopen"
)

// NewCmdAudit builds `jit audit` and its subcommands.
func NewCmdAudit(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Query, export and verify the audit log", GroupID: "admin"}
	cmd.AddCommand(newCmdQuery(f), newCmdExport(f), newCmdVerify(f))
	return cmd
}

type filter struct {
	since           time.Duration
	user, role, req string
	typ             string
}

func (fl *filter) flags(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&fl.since, "since", 0, "only events newer than this (e.g. 24h)")
	cmd.Flags().StringVar(&fl.user, "user", "", "only events by or about this user")
	cmd.Flags().StringVar(&fl.role, "role", "", "only events of this role")
	cmd.Flags().StringVar(&fl.req, "request", "", "only events of this request")
	cmd.Flags().StringVar(&fl.typ, "type", "", "only events of this type (e.g. credentials.vended)")
}

func (fl *filter) query(now time.Time) url.Values {
	q := url.Values{}
	if fl.since > 0 {
		q.Set("since", now.Add(-fl.since).UTC().Format(time.RFC3339))
	}
	for k, v := range map[string]string{"user": fl.user, "role": fl.role, "request": fl.req, "type": fl.typ} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func newCmdQuery(f *cmdutil.Factory) *cobra.Command {
	var fl filter
	var output string
	var limit int
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Show audit events (admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.Session()
			if err != nil {
				return err
			}
			client, err := s.API()
			if err != nil {
				return err
			}
			q := fl.query(f.Now())
			q.Set("limit", strconv.Itoa(limit))
			out, err := client.Audit(cmd.Context(), q)
			if err != nil {
				return err
			}
			if output == "json" {
				return cmdutil.WriteJSON(f.IO.Out, out.Events)
			}
			return table(f.IO.Out, out.Events)
		},
	}
	fl.flags(cmd)
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func table(w io.Writer, events []api.AuditEvent) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTYPE\tACTOR\tROLE\tREQUEST\tREASON")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format(time.DateTime), e.Type, e.Actor, e.Role, e.RequestID, e.Reason)
	}
	return tw.Flush()
}

func newCmdExport(f *cmdutil.Factory) *cobra.Command {
	var fl filter
	cmd := &cobra.Command{
		Use:     "export > audit.jsonl",
		Short:   "Stream the audit log as JSON lines (admins), for SIEMs and jit audit verify",
		Args:    cobra.NoArgs,
		Example: "  jit audit export > audit.jsonl && jit audit verify --file audit.jsonl",
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.Session()
			if err != nil {
				return err
			}
			client, err := s.API()
			if err != nil {
				return err
			}
			return client.AuditExport(cmd.Context(), fl.query(f.Now()), f.IO.Out)
		},
	}
	fl.flags(cmd)
	return cmd
}

func newCmdVerify(f *cmdutil.Factory) *cobra.Command {
	var file, dsn, head string
	cmd := &cobra.Command{
		Use:   "verify [--file audit.jsonl | --store DSN] [--head SEQ:HASH]",
		Short: "Verify the audit log's hash chain: detects edited, inserted, reordered or removed records",
		Long: `Verify the hash chain of a whole audit log: a JSON-lines export (--file, "-" for
stdin), the store itself (--store, as the server's store.dsn), or by default the
server's export (admins). Removal of the newest records is only detectable against
a head recorded earlier: pass it as --head SEQ:HASH (printed by every verify).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return verifyRun(cmd.Context(), f, file, dsn, head)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "a JSON-lines export to verify (- for stdin)")
	cmd.Flags().StringVar(&dsn, "store", "", "verify the store directly (sqlite path or postgres:// DSN)")
	cmd.Flags().StringVar(&head, "head", "", "a head recorded earlier, SEQ:HASH, to detect a cut-off tail")
	return cmd
}

func verifyRun(ctx context.Context, f *cmdutil.Factory, file, dsn, head string) error {
	v := jitaudit.NewVerifier()
	add := func(e api.AuditEvent) bool { return v.Add(e) == nil }
	switch {
	case file != "":
		var r io.Reader = f.IO.In
		if file != "-" {
			fh, err := os.Open(file)
			if err != nil {
				return err
			}
			defer fh.Close()
			r = fh
		}
		for e, err := range jitaudit.ReadJSONL(r) {
			if err != nil {
				return fmt.Errorf("read %s: %w", file, err)
			}
			if !add(e) {
				break
			}
		}
	case dsn != "":
		st, err := storeopen.Open(ctx, dsn, f.Logger())
		if err != nil {
			return err
		}
		defer st.Close()
		err = store.EachAudit(ctx, st, store.AuditFilter{}, func(e api.AuditEvent) (bool, error) { return add(e), nil })
		if err != nil {
			return err
		}
	default:
		s, err := f.Session()
		if err != nil {
			return err
		}
		client, err := s.API()
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(client.AuditExport(ctx, url.Values{}, pw)) }()
		for e, err := range jitaudit.ReadJSONL(pr) {
			if err != nil {
				pr.Close()
				return err
			}
			if !add(e) {
				break
			}
		}
		pr.Close()
	}
	rep := v.Result()
	if rep.Err == nil && head != "" {
		var seq int64
		var hash string
		if _, err := fmt.Sscanf(head, "%d:%s", &seq, &hash); err != nil {
			return cmdutil.FlagErrorf("--head must be SEQ:HASH, as printed by a previous verify")
		}
		if err := v.VerifyHead(seq, hash); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "FAILED: %v\n", err)
			return cmdutil.ErrSilent
		}
	}
	if rep.Err != nil {
		fmt.Fprintf(f.IO.ErrOut, "FAILED after %d good record(s): %v\n", rep.Count, rep.Err)
		return cmdutil.ErrSilent
	}
	fmt.Fprintf(f.IO.Out, "OK: %d record(s); head %d:%s\n", rep.Count, rep.HeadSeq, rep.HeadHash)
	return nil
}
