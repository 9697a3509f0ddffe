package requests

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestNewCmdRequests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"defaults", nil, Options{Scope: apiclient.ScopeMine, Limit: 50, Output: "table"}, ""},
		{"pending, json", []string{"--pending", "-o", "json"}, Options{Scope: apiclient.ScopeReview, Limit: 50, Output: "json"}, ""},
		{"all, states, unused", []string{"--all", "--state", "active,expired", "--limit", "5", "--unused"},
			Options{Scope: apiclient.ScopeAll, States: []string{"active", "expired"}, Limit: 5, Unused: true, Output: "table"}, ""},
		{"two scopes", []string{"--mine", "--all"}, Options{}, "use one of --mine, --pending, --all"},
		{"bad output", []string{"-o", "yaml"}, Options{}, `--output must be table or json, not "yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdRequests(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Scope != tc.want.Scope || strings.Join(got.States, ",") != strings.Join(tc.want.States, ",") || got.Limit != tc.want.Limit ||
				got.Unused != tc.want.Unused || got.Output != tc.want.Output {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestNewCmdRolesAndStatus(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantWatch bool
		wantOut   string
	}{
		{"roles", []string{"-o", "json"}, false, "json"},
		{"status", nil, false, "table"},
		{"status", []string{"--watch"}, true, "table"},
	} {
		t.Run(tc.name+strings.Join(tc.args, ""), func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			runF := func(_ context.Context, o *Options) error { got = o; return nil }
			cmd := NewCmdRoles(&cmdutil.Factory{IO: io}, runF)
			if tc.name == "status" {
				cmd = NewCmdStatus(&cmdutil.Factory{IO: io}, runF)
			}
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Watch != tc.wantWatch || got.Output != tc.wantOut || got.WitnessDir == nil {
				t.Fatalf("options %+v, want watch %t output %s and a witness dir", *got, tc.wantWatch, tc.wantOut)
			}
		})
	}
}

func sessionOn(t *testing.T, routes cmdtest.Routes, now time.Time) *session.Session {
	t.Helper()
	return cmdtest.Session(t, cmdtest.Server(t, routes), "alice@example.com", func() time.Time { return now })
}

func TestRolesRun(t *testing.T) {
	now := time.Now()
	roles := []api.Role{
		{Name: "readonly", DefaultDuration: 900, MaxDuration: 3600, AutoApproved: true, Description: "read only"},
		{Name: "prod", DefaultDuration: 1800, MaxDuration: 7200, ApprovalsRequired: 2, BreakGlass: true},
	}
	for _, tc := range []struct {
		name, output string
		roles        []api.Role
		wantStdout   []string
		wantStderr   string
	}{
		{"table", "table", roles, []string{"ROLE", "readonly  15m", "1h", "auto", "read only", "prod", "2 approver(s), break-glass"}, ""},
		{"json", "json", roles, []string{`"name": "readonly"`, `"name": "prod"`}, ""},
		{"none", "table", nil, nil, "The policy lets you request no role; ask your jit admin."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sessionOn(t, cmdtest.Routes{"GET /v1/roles": api.RolesResponse{Roles: tc.roles}}, now)
			io, _, stdout, stderr := iostreams.Test()
			err := RolesRun(t.Context(), &Options{IO: io, Session: func() (*session.Session, error) { return s, nil }, Now: time.Now, Output: tc.output})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if strings.TrimSpace(stderr.String()) != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestListRun(t *testing.T) {
	now := time.Now()
	used := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateExpired, StartsAt: now.Add(-2 * time.Hour),
		EndsAt: now.Add(-time.Hour), DurationSeconds: 3600, Activity: &api.Activity{Calls: 3}}
	idle := api.Request{ID: "req_2", Role: "prod", Requester: "alice@example.com", State: api.StateExpired, StartsAt: now.Add(-2 * time.Hour),
		EndsAt: now.Add(-time.Hour), DurationSeconds: 3600}
	for _, tc := range []struct {
		name       string
		opts       Options
		wantQuery  []url.Values
		wantStdout []string
		notStdout  []string
		wantStderr string
	}{
		{"two pages", Options{Scope: apiclient.ScopeAll, Limit: 50, Output: "table"},
			[]url.Values{{"scope": {"all"}, "limit": {"50"}}, {"scope": {"all"}, "limit": {"49"}, "cursor": {"next"}}},
			[]string{"req_1", "req_2"}, nil, ""},
		{"unused only, states", Options{Scope: apiclient.ScopeMine, States: []string{"expired"}, Limit: 50, Unused: true, Output: "json"},
			[]url.Values{{"scope": {"mine"}, "limit": {"50"}, "state": {"expired"}}, {"scope": {"mine"}, "limit": {"50"}, "state": {"expired"}, "cursor": {"next"}}},
			[]string{`"id": "req_2"`}, []string{"req_1"}, ""},
		{"limit reached after one page", Options{Scope: apiclient.ScopeReview, Limit: 1, Output: "table"},
			[]url.Values{{"scope": {"review"}, "limit": {"1"}}}, []string{"req_1"}, []string{"req_2"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var queries []url.Values
			s := sessionOn(t, cmdtest.Routes{"GET /v1/requests": func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				queries = append(queries, q)
				if q.Get("cursor") == "" {
					cmdtest.Answer(w, api.RequestList{Requests: []api.Request{used}, NextCursor: "next"})
					return
				}
				cmdtest.Answer(w, api.RequestList{Requests: []api.Request{idle}})
			}}, now)
			io, _, stdout, stderr := iostreams.Test()
			tc.opts.IO, tc.opts.Now = io, time.Now
			tc.opts.Session = func() (*session.Session, error) { return s, nil }
			if err := ListRun(t.Context(), &tc.opts); err != nil {
				t.Fatal(err)
			}
			if len(queries) != len(tc.wantQuery) {
				t.Fatalf("queries %v, want %v", queries, tc.wantQuery)
			}
			for i, q := range queries {
				if q.Encode() != tc.wantQuery[i].Encode() {
					t.Errorf("query %d: %s, want %s", i, q.Encode(), tc.wantQuery[i].Encode())
				}
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, not := range tc.notStdout {
				if strings.Contains(stdout.String(), not) {
					t.Errorf("stdout has %q:\n%s", not, stdout)
				}
			}
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestStatusRun(t *testing.T) {
	now := time.Now()
	live := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateActive, StartsAt: now, EndsAt: now.Add(time.Hour), DurationSeconds: 3600}
	revoked := api.Request{ID: "req_2", Role: "staging", Requester: "alice@example.com", State: api.StateRevoked, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(-time.Minute), DurationSeconds: 3600}
	ending := api.Request{ID: "req_3", Role: "readonly", Requester: "alice@example.com", State: api.StateActive, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(4 * time.Minute), DurationSeconds: 3900}
	creds := func(id, role string) api.Credentials {
		return api.Credentials{AccessKeyID: "ASIA" + id, SecretAccessKey: "s", SessionToken: "t", RequestID: id, Role: role,
			Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	}
	for _, tc := range []struct {
		name       string
		reqs       []api.Request
		wantStdout []string
		wantStderr string
		// wantCached: which roles' credentials remain after.
		wantCached map[string]bool
	}{
		{"a live grant, a revoked one's credentials wiped", []api.Request{live, revoked}, []string{"req_1", "prod"},
			"Wiped 1 cached credential item(s) whose grant ended.\n", map[string]bool{"prod": true, "staging": false}},
		{"a grant ending within the reminder's lead offers the extension", []api.Request{live, ending}, []string{"req_1", "req_3"},
			"req_3 (readonly) ends in 4m: extend? jit extend req_3 --for 30m --reason \"…\"\n", map[string]bool{"prod": true, "staging": true}},
		{"nothing live", []api.Request{revoked}, nil,
			"Wiped 1 cached credential item(s) whose grant ended.\nNo live grants and no pending requests. Ask with: jit request ROLE --reason TEXT\n",
			map[string]bool{"prod": true, "staging": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sessionOn(t, cmdtest.Routes{"GET /v1/requests": api.RequestList{Requests: tc.reqs}}, now)
			for _, c := range []api.Credentials{creds("req_1", "prod"), creds("req_2", "staging")} {
				if err := s.Cache.PutCredentials(t.Context(), s.Server, c.Role, c); err != nil {
					t.Fatal(err)
				}
			}
			io, _, stdout, stderr := iostreams.Test()
			err := StatusRun(t.Context(), &Options{IO: io, Session: func() (*session.Session, error) { return s, nil }, Now: time.Now, Output: "table"})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if len(tc.wantStdout) == 0 && stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
			for role, want := range tc.wantCached {
				if _, ok, _ := s.Cache.GetCredentials(t.Context(), s.Server, role); ok != want {
					t.Errorf("%s credentials cached: %t, want %t", role, ok, want)
				}
			}
		})
	}
}
