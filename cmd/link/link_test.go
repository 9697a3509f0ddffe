package link

import (
	"context"
	"io"
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

func TestNewCmdLinkSlack(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"list", []string{"slack"}, Options{Output: "table"}, ""},
		{"code", []string{"slack", "K7M2Q-9XW4T"}, Options{Code: "K7M2Q-9XW4T", Output: "table"}, ""},
		{"remove", []string{"slack", "--remove", "-o", "json"}, Options{Remove: true, Output: "json"}, ""},
		{"both", []string{"slack", "K7M2Q-9XW4T", "--remove"}, Options{}, "use a CODE or --remove, not both"},
		{"two codes", []string{"slack", "A", "B"}, Options{}, "accepts at most 1 arg(s), received 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdLink(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Code != tc.want.Code || got.Remove != tc.want.Remove || got.Output != tc.want.Output {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestLinkSlackRun(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	link := api.SlackLink{TeamID: "T0JIT", UserID: "U-ALICE", Principal: "alice@example.com", LinkedAt: now, ExpiresAt: now.Add(720 * time.Hour)}
	for _, tc := range []struct {
		name       string
		opts       Options
		routes     cmdtest.Routes
		wantSent   string
		wantStdout []string
		wantStderr string
		wantErr    string
	}{
		{"link", Options{Code: "k7m2q-9xw4t", Output: "table"}, nil, `{"code":"k7m2q-9xw4t"}`,
			[]string{"Linked Slack user U-ALICE (workspace T0JIT) to alice@example.com", "type /jit"}, "", ""},
		{"a used code", Options{Code: "K7M2Q-9XW4T", Output: "table"}, cmdtest.Routes{
			"POST /v1/links/slack": cmdtest.Fail(http.StatusNotFound, api.CodeNotFound, "this link code is unknown or was already used")},
			`{"code":"K7M2Q-9XW4T"}`, nil, "", "this link code is unknown or was already used"},
		{"list", Options{Output: "table"}, nil, "", []string{"T0JIT", "U-ALICE", "alice@example.com"}, "", ""},
		{"list none", Options{Output: "table"}, cmdtest.Routes{"GET /v1/links/slack": api.SlackLinks{Links: []api.SlackLink{}}}, "",
			nil, "No Slack account is linked to you. To link one: type /jit link in Slack, then run jit link slack CODE.\n", ""},
		{"remove", Options{Remove: true, Output: "table"}, nil, "", []string{"Unlinked 1 Slack account(s)."}, "", ""},
		{"server without Slack", Options{Code: "K7M2Q-9XW4T", Output: "table"}, cmdtest.Routes{
			"POST /v1/links/slack": cmdtest.Fail(http.StatusNotFound, api.CodeNotFound, "this jit server does not take requests from Slack")},
			`{"code":"K7M2Q-9XW4T"}`, nil, "", "this jit server does not take requests from Slack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent string
			routes := cmdtest.Routes{
				"GET /v1/links/slack":    api.SlackLinks{Links: []api.SlackLink{link}},
				"DELETE /v1/links/slack": api.SlackLinks{Links: []api.SlackLink{link}, Removed: 1},
			}
			for k, v := range tc.routes {
				routes[k] = v
			}
			answer, ok := routes["POST /v1/links/slack"]
			if !ok {
				answer = api.SlackLinks{Links: []api.SlackLink{link}}
			}
			routes["POST /v1/links/slack"] = func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				sent = strings.TrimSpace(string(b))
				cmdtest.Answer(w, answer)
			}
			srv := cmdtest.Server(t, routes)
			ios, _, stdout, stderr := iostreams.Test()
			opts := tc.opts
			opts.IO = ios
			opts.Session = func() (*session.Session, error) {
				return cmdtest.Session(t, srv, "alice@example.com", func() time.Time { return now }), nil
			}
			err := Run(context.Background(), &opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if sent != tc.wantSent {
				t.Errorf("sent %q, want %q", sent, tc.wantSent)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q lacks %q", stdout.String(), w)
				}
			}
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
