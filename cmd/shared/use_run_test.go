package shared

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/browser"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// grantSession is a session whose server has alice's live grant of prod
// and vends its credentials.
func grantSession(t *testing.T, region string) *session.Session {
	t.Helper()
	now := time.Now()
	grant := api.Request{ID: "req_1", Role: "prod", Requester: "alice@example.com", State: api.StateActive,
		StartsAt: now, EndsAt: now.Add(time.Hour), DurationSeconds: 3600}
	creds := api.Credentials{AccessKeyID: "ASIAUSE", SecretAccessKey: "secret", SessionToken: "token", RequestID: "req_1", Role: "prod",
		Region: region, Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	return cmdtest.Session(t, cmdtest.Server(t, cmdtest.Routes{
		"GET /v1/requests":                    api.RequestList{Requests: []api.Request{grant}},
		"POST /v1/requests/req_1/credentials": creds,
	}), "alice@example.com", time.Now)
}

func TestAssumeRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tty        bool
		opts       UseOptions
		region     string
		wantStdout []string
		wantStderr string
		wantErr    string
	}{
		{"bash with the role's region", false, UseOptions{Shell: "bash"}, "eu-west-1",
			[]string{"unset AWS_PROFILE\n", "export AWS_ACCESS_KEY_ID='ASIAUSE'\n", "export AWS_REGION='eu-west-1'\n"}, "", ""},
		{"fish, --region wins", false, UseOptions{Shell: "fish", Region: "us-east-2"}, "eu-west-1",
			[]string{"set -gx AWS_ACCESS_KEY_ID 'ASIAUSE'", "set -gx AWS_REGION 'us-east-2'"}, "", ""},
		{"on a terminal, a warning on stderr", true, UseOptions{Shell: "bash"}, "",
			[]string{"export AWS_SESSION_TOKEN='token'"}, "# These lines hold secrets; use: eval \"$(jit assume prod)\"\n", ""},
		{"an unknown shell", false, UseOptions{Shell: "tcsh"}, "", nil, "", "tcsh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := grantSession(t, tc.region)
			io, _, stdout, stderr := iostreams.Test()
			io.SetTTY(tc.tty)
			tc.opts.IO, tc.opts.Role = io, "prod"
			tc.opts.Session = func() (*session.Session, error) { return s, nil }
			err := AssumeRun(t.Context(), &tc.opts)
			if tc.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &fe) {
					t.Fatalf("err = %v, want a flag error naming %q", err, tc.wantErr)
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

type openerFunc func(string) error

func (o openerFunc) Open(u string) error { return o(u) }

func TestConsoleRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       UseOptions
		env        map[string]string
		openErr    error
		wantStdout string
		wantOpened bool
		wantStderr string
		wantErr    string
	}{
		{"--url prints", UseOptions{PrintURL: true}, map[string]string{"DISPLAY": ":0"}, nil, "Action=login", false, "", ""},
		{"headless prints", UseOptions{}, map[string]string{"SSH_CONNECTION": "10.0.0.1 22"}, nil, "SigninToken=tok", false, "", ""},
		{"opens a browser", UseOptions{}, map[string]string{"DISPLAY": ":0"}, nil, "", true, "Opened the AWS console as prod.\n", ""},
		{"the browser fails", UseOptions{}, map[string]string{"DISPLAY": ":0"}, errors.New("no browser"), "", true, "", "no browser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fed := cmdtest.Server(t, cmdtest.Routes{"POST /federation": map[string]string{"SigninToken": "tok"}})
			s := grantSession(t, "")
			io, _, stdout, stderr := iostreams.Test()
			opened := false
			tc.opts.IO, tc.opts.Role, tc.opts.Destination = io, "prod", console.DefaultDestination
			tc.opts.FederationURL, tc.opts.HTTPClient = fed.URL+"/federation", fed.Client
			tc.opts.Env = func(k string) string { return tc.env[k] }
			tc.opts.Session = func() (*session.Session, error) { return s, nil }
			tc.opts.Browser = func() browser.Opener {
				return openerFunc(func(u string) error {
					opened = true
					if !strings.Contains(u, "SigninToken=tok") {
						t.Errorf("opened %s", u)
					}
					return tc.openErr
				})
			}
			err := ConsoleRun(t.Context(), &tc.opts)
			if opened != tc.wantOpened {
				t.Errorf("browser opened: %t, want %t", opened, tc.wantOpened)
			}
			if tc.wantErr != "" {
				var he *cmdutil.HintError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &he) || !strings.Contains(he.Hint, "jit console prod --url") {
					t.Fatalf("err = %v, want %q hinting at --url", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), tc.wantStdout) || (tc.wantStdout == "" && stdout.Len() != 0) {
				t.Errorf("stdout %q, want %q", stdout, tc.wantStdout)
			}
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}
