package decide

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestDecideRun(t *testing.T) {
	now := time.Now()
	base := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", ApprovalsNeeded: 1,
		StartsAt: now, EndsAt: now.Add(time.Hour), DurationSeconds: 3600}
	as := func(st api.State) api.Request { r := base; r.State = st; return r }
	creds := api.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s", SessionToken: "t", RequestID: "req_1", Role: "prod",
		Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	for _, tc := range []struct {
		name       string
		opts       Options
		answer     any
		wantBody   string
		wantStdout string
		wantErr    string
		// wantWiped: the cached credentials of the grant are gone afterwards.
		wantWiped bool
	}{
		{"approve", Options{Action: Approve, ID: "req_1", Comment: "ok for INC-1", Output: "text"}, as(api.StateActive),
			`{"comment":"ok for INC-1","version":1}`, "Approved req_1: alice@example.com has prod until", "", false},
		{"deny", Options{Action: Deny, ID: "req_1", Comment: "use readonly", Output: "text"}, as(api.StateDenied),
			`{"comment":"use readonly","version":1}`, "Deny: req_1 (prod for alice@example.com) is now denied.", "", false},
		{"revoke wipes this machine's credentials", Options{Action: Revoke, ID: "req_1", Output: "text"}, as(api.StateRevoked),
			`{}`, "Revoke: req_1 (prod for alice@example.com) is now revoked.", "", true},
		{"extend as json", Options{Action: Extend, ID: "req_1", For: 30 * time.Minute, Output: "json"}, as(api.StateActive),
			`{"duration_seconds":1800}`, `"state": "active"`, "", true},
		{"self-approval refused by the server", Options{Action: Approve, ID: "req_1", Output: "text"},
			cmdtest.Fail(http.StatusForbidden, api.CodeForbidden, "you cannot approve your own request"), `{"version":1}`, "", "you cannot approve your own request", false},
		{"approve what --seen names (an extension)", Options{Action: Approve, ID: "req_1", Seen: 7, Output: "text"}, as(api.StateActive),
			`{"version":7}`, "Approved req_1", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body string
			srv := cmdtest.Server(t, cmdtest.Routes{"POST /v1/requests/req_1/" + string(tc.opts.Action): func(w http.ResponseWriter, r *http.Request) {
				var v map[string]any
				_ = json.NewDecoder(r.Body).Decode(&v)
				b, _ := json.Marshal(v)
				body = string(b)
				cmdtest.Answer(w, tc.answer)
			}})
			s := cmdtest.Session(t, srv, "bob@example.com", time.Now)
			if err := s.Cache.PutCredentials(t.Context(), srv.URL, "prod", creds); err != nil {
				t.Fatal(err)
			}
			io, _, stdout, _ := iostreams.Test()
			tc.opts.IO, tc.opts.Session = io, func() (*session.Session, error) { return s, nil }
			err := Run(t.Context(), &tc.opts)
			if body != tc.wantBody {
				t.Errorf("sent %s, want %s", body, tc.wantBody)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || (tc.wantStdout == "" && stdout.Len() != 0) {
				t.Errorf("stdout %q, want %q", stdout, tc.wantStdout)
			}
			_, cachedStill, _ := s.Cache.GetCredentials(t.Context(), srv.URL, "prod")
			if cachedStill == tc.wantWiped {
				t.Errorf("credentials still cached: %t, want wiped: %t", cachedStill, tc.wantWiped)
			}
		})
	}
}
