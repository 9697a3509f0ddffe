package report

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestReportRun(t *testing.T) {
	now := time.Date(2026, 5, 31, 12, 0, 0, 0, time.UTC)
	rep := api.Report{Since: now.Add(-30 * 24 * time.Hour), Until: now,
		Grants: []api.ReportGrant{{ID: "req_1", Requester: "alice@example.com", Role: "prod", State: api.StateExpired, Start: now.Add(-48 * time.Hour),
			Approvers: []string{"bob@example.com"}, Asked: 3600, Used: 3600, BreakGlass: true, Review: "pending"}},
		Unused: []string{"req_1"}, Summary: api.ReportSummary{Grants: 1, BreakGlass: 1, AwaitingReview: 1, Unused: 1}}
	for _, tc := range []struct {
		name       string
		output     string
		answer     any
		wantStdout []string
		wantErr    string
	}{
		{"table", "table", rep, []string{"Access report 2026-05-01 to 2026-05-31 (30 days)", "Grants: 1   break-glass: 1 (1 awaiting review)   unused: 1"}, ""},
		{"csv", "csv", rep, []string{"id,requester,role,state,start,asked_seconds,used_seconds,calls,approved_by,break_glass,review,unused\n",
			"req_1,alice@example.com,prod,expired,2026-05-29T12:00:00Z,3600,3600,0,bob@example.com,true,pending,true\n"}, ""},
		{"json", "json", rep, []string{`"unused": [`, `"req_1"`}, ""},
		{"not an admin", "table", cmdtest.Fail(http.StatusForbidden, api.CodeForbidden, "only admins read the report"), nil, "only admins read the report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q url.Values
			srv := cmdtest.Server(t, cmdtest.Routes{"GET /v1/report": func(w http.ResponseWriter, r *http.Request) {
				q = r.URL.Query()
				cmdtest.Answer(w, tc.answer)
			}})
			s := cmdtest.Session(t, srv, "admin@example.com", func() time.Time { return now })
			io, _, stdout, stderr := iostreams.Test()
			err := Run(t.Context(), &Options{IO: io, Session: func() (*session.Session, error) { return s, nil }, Now: func() time.Time { return now },
				Since: 30 * 24 * time.Hour, Output: tc.output})
			if q.Get("since") != "2026-05-01T12:00:00Z" || q.Get("until") != "2026-05-31T12:00:00Z" {
				t.Errorf("asked for %v, want the 30 days up to now", q)
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
