package audit

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	jitaudit "github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// chain is an honest hash chain of n events.
func chain(n int) []api.AuditEvent {
	prev := jitaudit.GenesisHash
	var events []api.AuditEvent
	for i := 1; i <= n; i++ {
		e := api.AuditEvent{Seq: int64(i), Time: now.Add(time.Duration(i) * time.Minute), Type: jitaudit.TypeVended,
			Actor: "alice@example.com", Role: "prod", RequestID: "req_1", Reason: "deploy", PrevHash: prev}
		e.Hash = jitaudit.Hash(e)
		prev = e.Hash
		events = append(events, e)
	}
	return events
}

func jsonl(t *testing.T, events []api.AuditEvent) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jitaudit.WriteJSONL(&b, events); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sessionOn(t *testing.T, routes cmdtest.Routes) func() (*session.Session, error) {
	t.Helper()
	s := cmdtest.Session(t, cmdtest.Server(t, routes), "admin@example.com", func() time.Time { return now })
	return func() (*session.Session, error) { return s, nil }
}

func TestNewCmdQuery(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want QueryOptions
	}{
		{"defaults", nil, QueryOptions{Limit: 100, Output: "table"}},
		{"every filter", []string{"--since", "24h", "--user", "alice@example.com", "--role", "prod", "--request", "req_1", "--type", "credentials.vended", "--limit", "5", "-o", "json"},
			QueryOptions{Filter: Filter{Since: 24 * time.Hour, User: "alice@example.com", Role: "prod", Request: "req_1", Type: "credentials.vended"}, Limit: 5, Output: "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *QueryOptions
			cmd := NewCmdQuery(&cmdutil.Factory{IO: io}, func(_ context.Context, o *QueryOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Filter != tc.want.Filter || got.Limit != tc.want.Limit || got.Output != tc.want.Output {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestQueryRun(t *testing.T) {
	events := chain(2)
	for _, tc := range []struct {
		name       string
		opts       QueryOptions
		answer     any
		wantQuery  url.Values
		wantStdout []string
		wantErr    string
	}{
		{"table", QueryOptions{Limit: 100, Output: "table"}, api.AuditList{Events: events}, url.Values{"limit": {"100"}},
			[]string{"SEQ  TIME", "TYPE", "1    ", "credentials.vended  alice@example.com  prod  req_1    deploy"}, ""},
		{"json with filters", QueryOptions{Filter: Filter{Since: time.Hour, User: "alice@example.com", Type: "credentials.vended"}, Limit: 5, Output: "json"},
			api.AuditList{Events: events[:1]},
			url.Values{"limit": {"5"}, "since": {"2026-05-01T11:00:00Z"}, "user": {"alice@example.com"}, "type": {"credentials.vended"}},
			[]string{`"seq": 1`, `"hash": "` + events[0].Hash + `"`}, ""},
		{"not an admin", QueryOptions{Limit: 100, Output: "table"}, cmdtest.Fail(http.StatusForbidden, api.CodeForbidden, "only admins read the audit log"),
			url.Values{"limit": {"100"}}, nil, "only admins read the audit log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotQuery url.Values
			sess := sessionOn(t, cmdtest.Routes{"GET /v1/audit": func(w http.ResponseWriter, r *http.Request) {
				gotQuery = r.URL.Query()
				cmdtest.Answer(w, tc.answer)
			}})
			io, _, stdout, stderr := iostreams.Test()
			tc.opts.IO, tc.opts.Now = io, func() time.Time { return now }
			tc.opts.Session = sess
			err := QueryRun(t.Context(), &tc.opts)
			if !reflect.DeepEqual(gotQuery, tc.wantQuery) {
				t.Errorf("query %v, want %v", gotQuery, tc.wantQuery)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q", stderr)
			}
		})
	}
}

func TestNewCmdExport(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	var got *ExportOptions
	cmd := NewCmdExport(&cmdutil.Factory{IO: io}, func(_ context.Context, o *ExportOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--since", "2h", "--role", "prod"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if want := (Filter{Since: 2 * time.Hour, Role: "prod"}); got.Filter != want {
		t.Fatalf("filter %+v, want %+v", got.Filter, want)
	}
	cmd = NewCmdExport(&cmdutil.Factory{IO: io}, func(context.Context, *ExportOptions) error { return nil })
	cmd.SetArgs([]string{"audit.jsonl"})
	cmd.SetOut(io.ErrOut)
	cmd.SetErr(io.ErrOut)
	if err := cmd.Execute(); err == nil {
		t.Fatal("an argument was accepted (export writes to stdout)")
	}
}

func TestExportRun(t *testing.T) {
	body := jsonl(t, chain(3))
	for _, tc := range []struct {
		name      string
		filter    Filter
		handler   http.HandlerFunc
		wantQuery string
		wantOut   string
		wantErr   string
	}{
		{"everything", Filter{}, nil, "", string(body), ""},
		{"one request since an hour", Filter{Since: time.Hour, Request: "req_1"}, nil, "request=req_1&since=2026-05-01T11%3A00%3A00Z", string(body), ""},
		{"not an admin", Filter{}, func(w http.ResponseWriter, _ *http.Request) {
			cmdtest.WriteJSON(w, http.StatusForbidden, api.Error{Code: api.CodeForbidden, Message: "only admins read the audit log"})
		}, "", "", "only admins read the audit log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotQuery string
			sess := sessionOn(t, cmdtest.Routes{"GET /v1/audit/export": func(w http.ResponseWriter, r *http.Request) {
				gotQuery = r.URL.RawQuery
				if tc.handler != nil {
					tc.handler(w, r)
					return
				}
				_, _ = w.Write(body)
			}})
			io, _, stdout, _ := iostreams.Test()
			err := ExportRun(t.Context(), &ExportOptions{IO: io, Session: sess, Now: func() time.Time { return now }, Filter: tc.filter})
			if gotQuery != tc.wantQuery {
				t.Errorf("query %q, want %q", gotQuery, tc.wantQuery)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || stdout.String() != tc.wantOut {
				t.Fatalf("err %v, stdout %q, want %q", err, stdout, tc.wantOut)
			}
		})
	}
}

func TestNewCmdVerify(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want VerifyOptions
	}{
		{"the server", nil, VerifyOptions{}},
		{"offline", []string{"--file", "audit.jsonl", "--checkpoint", "cp.txt", "--key", "jit+1+abc", "--head", "4:ab"},
			VerifyOptions{File: "audit.jsonl", Checkpoint: "cp.txt", Key: "jit+1+abc", Head: "4:ab"}},
		{"the store", []string{"--store", "/var/lib/jit/jit.db"}, VerifyOptions{DSN: "/var/lib/jit/jit.db"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *VerifyOptions
			reader := StoreReader(func(context.Context, string, func(api.AuditEvent) bool) (jitaudit.Checkpoint, error) {
				return jitaudit.Checkpoint{}, errors.New("the wired reader")
			})
			cmd := NewCmdVerify(&cmdutil.Factory{IO: io}, reader, func(_ context.Context, o *VerifyOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.File != tc.want.File || got.Checkpoint != tc.want.Checkpoint || got.Key != tc.want.Key || got.Head != tc.want.Head || got.DSN != tc.want.DSN {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
			if _, err := got.ReadStore(t.Context(), "", nil); err == nil || err.Error() != "the wired reader" {
				t.Fatalf("ReadStore is not the one NewCmdVerify was given: %v", err)
			}
		})
	}
}

// TestVerifyRun covers the server and --store paths; the --file path has
// its own tests in verify_test.go.
func TestVerifyRun(t *testing.T) {
	good := chain(5)
	edited := chain(5)
	edited[2].Actor = "mallory@example.com" // the chain no longer holds
	var tree jitaudit.MemoryTree
	for _, e := range good {
		leaf, _ := jitaudit.LeafHash(e)
		_ = tree.Append(leaf)
	}
	root, _ := tree.Root(5)
	storeReader := func(events []api.AuditEvent, cp jitaudit.Checkpoint) StoreReader {
		return func(_ context.Context, dsn string, each func(api.AuditEvent) bool) (jitaudit.Checkpoint, error) {
			if dsn != "/var/lib/jit/jit.db" {
				return jitaudit.Checkpoint{}, errors.New("wrong dsn " + dsn)
			}
			for _, e := range events {
				if !each(e) {
					break
				}
			}
			return cp, nil
		}
	}
	for _, tc := range []struct {
		name       string
		opts       VerifyOptions
		export     []api.AuditEvent
		wantStdout string
		wantStderr string
		wantErr    error
	}{
		{"server without checkpoints", VerifyOptions{}, good,
			"OK: 5 record(s); head 5:" + good[4].Hash + "\n", "signs no audit checkpoints; checking the hash chain only", nil},
		{"server with a broken chain", VerifyOptions{}, edited,
			"", "FAILED after 2 good record(s)", cmdutil.ErrSilent},
		{"server, head recorded earlier", VerifyOptions{Head: "3:" + good[2].Hash}, good,
			"OK: 5 record(s)", "signs no audit checkpoints", nil},
		{"server, head that does not match", VerifyOptions{Head: "3:" + good[1].Hash}, good,
			"", "FAILED: ", cmdutil.ErrSilent},
		{"store matching its tree", VerifyOptions{DSN: "/var/lib/jit/jit.db", ReadStore: storeReader(good, jitaudit.Checkpoint{Origin: "store", Size: 5, Hash: root})}, nil,
			"OK: records match checkpoint store size 5", "", nil},
		{"store whose tree lost records", VerifyOptions{DSN: "/var/lib/jit/jit.db", ReadStore: storeReader(good[:4], jitaudit.Checkpoint{Origin: "store", Size: 5, Hash: root})}, nil,
			"", "records were removed", cmdutil.ErrSilent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, stdout, stderr := iostreams.Test()
			tc.opts.IO = io
			tc.opts.Env = func(k string) string {
				if k == "JIT_WITNESS_DIR" {
					return t.TempDir()
				}
				return ""
			}
			tc.opts.Session = sessionOn(t, cmdtest.Routes{"GET /v1/audit/export": func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write(jsonl(t, tc.export))
			}})
			err := VerifyRun(t.Context(), &tc.opts)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v\nstderr: %s", err, tc.wantErr, stderr)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || (tc.wantStdout == "" && stdout.Len() != 0) {
				t.Errorf("stdout %q, want %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) || (tc.wantStderr == "" && stderr.Len() != 0) {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestVerifyStoreRefusedWithoutAReader(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	err := VerifyRun(t.Context(), &VerifyOptions{IO: io, DSN: "/var/lib/jit/jit.db"})
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a flag error", err)
	}
}
