package review

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestReviewRun(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	grant := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateExpired, BreakGlass: true,
		ReviewRequired: true, Reason: "pager", StartsAt: now.Add(-2 * time.Hour), EndsAt: now.Add(-time.Hour)}
	reviewed := grant
	reviewed.Review = &api.Review{By: "bob@example.com", Verdict: api.VerdictConcern, Note: "no ticket", At: now}
	timeline := api.Timeline{Request: grant, Events: []api.AuditEvent{{Time: grant.StartsAt, Type: "request.created", Actor: "alice@example.com", Reason: "pager"}}}
	for _, tc := range []struct {
		name       string
		opts       Options
		routes     cmdtest.Routes
		wantSent   string
		wantStdout []string
		wantStderr string
		wantErr    string
	}{
		{"the queue", Options{Output: "table"}, cmdtest.Routes{"GET /v1/reviews": api.RequestList{Requests: []api.Request{grant}}}, "",
			[]string{"req_1", "alice@example.com", "prod"}, "", ""},
		{"an empty queue", Options{Output: "table"}, cmdtest.Routes{"GET /v1/reviews": api.RequestList{}}, "",
			nil, "Nothing waits for your review.\n", ""},
		{"a timeline", Options{ID: "req_1", Output: "table"}, cmdtest.Routes{"GET /v1/requests/req_1/timeline": timeline}, "",
			[]string{"request.created", "(break-glass)", "waiting: jit review req_1"}, "", ""},
		{"a concern", Options{ID: "req_1", Concern: true, Note: "no ticket", Output: "table"}, nil, `{"verdict":"concern","note":"no ticket"}`,
			[]string{"req_1 reviewed: concern\n"}, "", ""},
		{"a concern as json", Options{ID: "req_1", Concern: true, Note: "no ticket", Output: "json"}, nil, `{"verdict":"concern","note":"no ticket"}`,
			[]string{`"verdict": "concern"`}, "", ""},
		{"the requester reviewing their own grant", Options{ID: "req_1", OK: true, Output: "table"}, cmdtest.Routes{
			"POST /v1/requests/req_1/review": cmdtest.Fail(http.StatusForbidden, api.CodeForbidden, "you cannot review your own grant")},
			`{"verdict":"ok"}`, nil, "", "you cannot review your own grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent string
			routes := cmdtest.Routes{}
			for k, v := range tc.routes {
				routes[k] = v
			}
			answer, ok := routes["POST /v1/requests/req_1/review"]
			if !ok {
				answer = reviewed
			}
			routes["POST /v1/requests/req_1/review"] = func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				sent = string(b)
				cmdtest.Answer(w, answer)
			}
			s := cmdtest.Session(t, cmdtest.Server(t, routes), "bob@example.com", func() time.Time { return now })
			ios, _, stdout, stderr := iostreams.Test()
			tc.opts.IO, tc.opts.Now = ios, func() time.Time { return now }
			tc.opts.Session = func() (*session.Session, error) { return s, nil }
			err := Run(t.Context(), &tc.opts)
			if sent != tc.wantSent {
				t.Errorf("sent %q, want %q", sent, tc.wantSent)
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
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}
