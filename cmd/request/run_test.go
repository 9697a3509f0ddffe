package request

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestRequestRun(t *testing.T) {
	now := time.Now()
	req := func(st api.State, mod func(*api.Request)) api.Request {
		r := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: st, ApprovalsNeeded: 1, Version: 1,
			DurationSeconds: 3600, StartsAt: now, EndsAt: now.Add(time.Hour)}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	active := req(api.StateActive, func(r *api.Request) {
		r.Version = 2
		r.Approvals = []api.Decision{{By: "bob@example.com", Approve: true}}
	})
	creds := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	grantRoutes := cmdtest.Routes{
		"GET /v1/requests":                    api.RequestList{Requests: []api.Request{active}},
		"POST /v1/requests/req_1/credentials": creds,
	}
	for _, tc := range []struct {
		name       string
		opts       Options
		created    any
		get        []api.Request // answers of GET /v1/requests/req_1, in order
		wantCreate string
		wantStdout string
		wantStderr []string
		wantExit   int
		wantCached bool
	}{
		{"auto-approved", Options{Role: "prod", Reason: "deploy", For: time.Hour, Output: "text"},
			req(api.StateActive, func(r *api.Request) { r.AutoApproved = true }), nil,
			`{"role":"prod","reason":"deploy","duration_seconds":3600}`, "req_1\n",
			[]string{"✓ prod granted until", "(auto-approved by policy)", "jit exec prod -- CMD"}, 0, true},
		{"pending, no wait", Options{Role: "prod", Reason: "deploy", Ticket: "T-1", NoWait: true, Output: "text"},
			req(api.StatePending, nil), nil,
			`{"role":"prod","reason":"deploy","ticket":"T-1"}`, "req_1\n",
			[]string{"Request req_1 for prod is pending: it needs 1 approval."}, cmdutil.ExitPending, false},
		{"break-glass as json", Options{Role: "prod", Reason: "pager", BreakGlass: true, Output: "json"},
			req(api.StateActive, func(r *api.Request) { r.BreakGlass = true }), nil,
			`{"role":"prod","reason":"pager","break_glass":true}`, `"break_glass": true`,
			[]string{"break-glass: everyone is notified, flagged for review"}, 0, true},
		{"denied", Options{Role: "prod", Output: "text"},
			req(api.StateDenied, func(r *api.Request) { r.Denial = &api.Decision{By: "bob@example.com", Comment: "use readonly"} }), nil,
			`{"role":"prod"}`, "", []string{"jit: request req_1 was denied by bob@example.com: use readonly"}, cmdutil.ExitDenied, false},
		{"refused by the policy", Options{Role: "prod", Output: "text"},
			cmdtest.Fail(http.StatusForbidden, api.CodeForbidden, "you are not eligible for prod"), nil,
			`{"role":"prod"}`, "", nil, -1, false},
		{"wait resumes a pending request until approved", Options{ResumeID: "req_1", Output: "text"}, nil,
			[]api.Request{req(api.StatePending, nil), active},
			"", "req_1\n", []string{"Request req_1 for prod is pending", "approved by bob@example.com"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var created string
			var gets atomic.Int32
			routes := cmdtest.Routes{
				"POST /v1/requests": func(w http.ResponseWriter, r *http.Request) {
					b, _ := io.ReadAll(r.Body)
					created = string(b)
					cmdtest.Answer(w, tc.created)
				},
				"GET /v1/requests/req_1": func(w http.ResponseWriter, _ *http.Request) {
					n := int(gets.Add(1)) - 1
					cmdtest.Answer(w, tc.get[min(n, len(tc.get)-1)])
				},
			}
			for k, v := range grantRoutes {
				routes[k] = v
			}
			s := cmdtest.Session(t, cmdtest.Server(t, routes), "alice@example.com", time.Now)
			ios, _, stdout, stderr := iostreams.Test()
			tc.opts.IO, tc.opts.Now = ios, time.Now
			tc.opts.Session = func() (*session.Session, error) { return s, nil }
			err := Run(t.Context(), &tc.opts)
			if created != tc.wantCreate {
				t.Errorf("created %s, want %s", created, tc.wantCreate)
			}
			var se *cmdutil.StatusError
			switch {
			case tc.wantExit == -1:
				if err == nil || !strings.Contains(err.Error(), "not eligible") {
					t.Fatalf("err = %v, want the server's refusal", err)
				}
			case tc.wantExit != 0:
				if !errors.As(err, &se) || se.Code != tc.wantExit {
					t.Fatalf("err = %v, want exit %d", err, tc.wantExit)
				}
			case err != nil:
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || (tc.wantStdout == "" && stdout.Len() != 0) {
				t.Errorf("stdout %q, want %q", stdout, tc.wantStdout)
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if _, ok, _ := s.Cache.GetCredentials(t.Context(), s.Server, "prod"); ok != tc.wantCached {
				t.Errorf("credentials cached: %t, want %t", ok, tc.wantCached)
			}
		})
	}
}

func TestRequestOfARoleWhoseAccessIsNotCredentialsSucceedsWithoutCaching(t *testing.T) {
	now := time.Now()
	granted := api.Request{ID: "req_1", Role: "ops", Requester: "alice@example.com", State: api.StateActive, AutoApproved: true,
		ApprovalsNeeded: 1, Version: 1, DurationSeconds: 3600, StartsAt: now, EndsAt: now.Add(time.Hour)}
	s := cmdtest.Session(t, cmdtest.Server(t, cmdtest.Routes{
		"POST /v1/requests": granted,
		"GET /v1/requests":  api.RequestList{Requests: []api.Request{granted}},
		"POST /v1/requests/req_1/credentials": cmdtest.Fail(http.StatusConflict, api.CodeNoCredentials,
			"role ops (ldap_group) has no credentials to hand out"),
	}), "alice@example.com", time.Now)
	ios, _, stdout, stderr := iostreams.Test()
	opts := &Options{Role: "ops", Output: "text", IO: ios, Now: time.Now, Session: func() (*session.Session, error) { return s, nil }}
	if err := Run(t.Context(), opts); err != nil {
		t.Fatalf("a granted ldap_group request: %v, want success", err)
	}
	if stdout.String() != "req_1\n" || !strings.Contains(stderr.String(), "✓ ops granted until") || !strings.Contains(stderr.String(), "nothing to fetch") {
		t.Fatalf("stdout %q stderr %q", stdout, stderr)
	}
	if _, ok, _ := s.Cache.GetCredentials(t.Context(), s.Server, "ops"); ok {
		t.Fatal("credentials cached for a role that has none")
	}
}
