package credentialprocess

import (
	"context"
	"errors"
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

func TestNewCmdCredentialProcess(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"role", []string{"--role", "prod"}, Options{Role: "prod", Timeout: time.Minute}, ""},
		{"timeout", []string{"--role", "prod", "--timeout", "5s"}, Options{Role: "prod", Timeout: 5 * time.Second}, ""},
		{"no role", nil, Options{}, "--role is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			io.SetTTY(true)
			var got *Options
			cmd := NewCmdCredentialProcess(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Role != tc.want.Role || got.Timeout != tc.want.Timeout {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
			// credential_process runs under the AWS SDK: never a prompt, even on a terminal.
			if io.CanPrompt() {
				t.Error("the streams may still prompt")
			}
		})
	}
}

func TestCredentialProcessRun(t *testing.T) {
	now := time.Now()
	grant := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateActive,
		StartsAt: now, EndsAt: now.Add(time.Hour), DurationSeconds: 3600}
	vended := api.Credentials{AccessKeyID: "ASIAVENDED", SecretAccessKey: "secret", SessionToken: "token", RequestID: "req_1", Role: "prod",
		Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	cached := vended
	cached.AccessKeyID = "ASIACACHED"
	for _, tc := range []struct {
		name       string
		routes     cmdtest.Routes
		cached     *api.Credentials
		wantStdout string
		wantErr    error
	}{
		{"fresh in the keyring, no network", cmdtest.Routes{}, &cached, `"AccessKeyId":"ASIACACHED"`, nil},
		{"vended for the live grant", cmdtest.Routes{
			"GET /v1/requests":                    api.RequestList{Requests: []api.Request{grant}},
			"POST /v1/requests/req_1/credentials": vended,
		}, nil, `"AccessKeyId":"ASIAVENDED"`, nil},
		{"no live grant", cmdtest.Routes{"GET /v1/requests": api.RequestList{}}, nil, "", session.ErrNoGrant},
		{"the grant was revoked", cmdtest.Routes{
			"GET /v1/requests":                    api.RequestList{Requests: []api.Request{grant}},
			"POST /v1/requests/req_1/credentials": cmdtest.Fail(http.StatusConflict, api.CodeConflict, "the grant was revoked"),
		}, nil, "", session.ErrNoGrant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := cmdtest.Session(t, cmdtest.Server(t, tc.routes), "alice@example.com", time.Now)
			if tc.cached != nil {
				if err := s.Cache.PutCredentials(t.Context(), s.Server, "prod", *tc.cached); err != nil {
					t.Fatal(err)
				}
			}
			io, _, stdout, stderr := iostreams.Test()
			err := Run(t.Context(), &Options{IO: io, Session: func() (*session.Session, error) { return s, nil }, Role: "prod", Timeout: 10 * time.Second})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || (tc.wantStdout == "" && stdout.Len() != 0) {
				t.Errorf("stdout %q, want %q", stdout, tc.wantStdout)
			}
			if tc.wantStdout != "" && !strings.HasPrefix(stdout.String(), `{"Version":1,`) {
				t.Errorf("stdout %q is not the credential_process JSON", stdout)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr %q: the shim says nothing there on its own", stderr)
			}
		})
	}
}
