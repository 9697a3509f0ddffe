package requests

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestNewCmdShow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"an id", []string{"req_1"}, Options{ID: "req_1", Output: "text"}, ""},
		{"json", []string{"req_1", "-o", "json"}, Options{ID: "req_1", Output: "json"}, ""},
		{"no id", nil, Options{}, "accepts 1 arg(s), received 0"},
		{"bad output", []string{"req_1", "-o", "yaml"}, Options{}, `--output must be text or json, not "yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdShow(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.ID != tc.want.ID || got.Output != tc.want.Output {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestShowRun(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	active := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateActive, Reason: "INC-1",
		DurationSeconds: 3600, CreatedAt: now.Add(-10 * time.Minute), StartsAt: now.Add(-5 * time.Minute), EndsAt: now.Add(55 * time.Minute),
		ApprovalsNeeded: 1, Approvals: []api.Decision{{By: "bob@example.com", Approve: true, At: now.Add(-5 * time.Minute), Comment: "ok"}}, BreakGlass: true}
	for _, tc := range []struct {
		name       string
		id, output string
		wantStdout []string
		wantErr    string
	}{
		{"text", "req_1", "text", []string{"id", "req_1", "requester", "alice@example.com", "state", "active", "1 of 1",
			"approved by", "bob@example.com", "left", "55m0s", "break-glass", "yes (flagged for review)"}, ""},
		{"json", "req_1", "json", []string{`"id": "req_1"`, `"state": "active"`}, ""},
		{"unknown", "req_2", "text", nil, "no request req_2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := cmdtest.Server(t, cmdtest.Routes{
				"GET /v1/requests/req_1": active,
				"GET /v1/requests/req_2": cmdtest.Fail(http.StatusNotFound, api.CodeNotFound, "no request req_2"),
			})
			s := cmdtest.Session(t, srv, "alice@example.com", func() time.Time { return now })
			io, _, stdout, stderr := iostreams.Test()
			opts := &Options{IO: io, Session: func() (*session.Session, error) { return s, nil }, Now: func() time.Time { return now },
				ID: tc.id, Output: tc.output}
			err := ShowRun(t.Context(), opts)
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
