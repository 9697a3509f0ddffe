package pick

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
	"github.com/jit-access/jit/pkg/tui"
)

func TestNewCmdPick(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no args", nil, ""},
		{"an argument", []string{"prod"}, `unknown command "prod" for "pick"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdPick(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.IO != io || got.Screen == nil || got.MRUPath == nil {
				t.Fatalf("options %+v: want the factory's streams, the TUI and the MRU file", got)
			}
		})
	}
}

func TestPickRun(t *testing.T) {
	now := time.Now()
	creds := api.Credentials{AccessKeyID: "ASIAPICKED", SecretAccessKey: "secret", SessionToken: "token", RequestID: "req_1", Role: "prod",
		Region: "eu-west-1", Expiration: now.Add(time.Hour), STSExpiration: now.Add(time.Hour), GrantEndsAt: now.Add(time.Hour)}
	for _, tc := range []struct {
		name       string
		tty        bool
		result     tui.Result
		screenErr  error
		noSession  bool
		wantStdout []string
		wantStderr string
		wantErr    string
		wantExit   int
		wantScreen bool
	}{
		{name: "no terminal", tty: false, wantErr: "jit pick needs a terminal", wantExit: cmdutil.ExitUsage},
		{name: "not logged in", tty: true, noSession: true, wantErr: session.ErrLoginRequired.Error()},
		{name: "left while waiting", tty: true, result: tui.Result{PendingID: "req_9"}, wantScreen: true,
			wantStderr: "Request req_9 is still pending.\n  resume:   jit wait req_9\n  withdraw: jit cancel req_9\n", wantExit: cmdutil.ExitPending},
		{name: "exports of a live grant", tty: true, result: tui.Result{Action: tui.ActionExports, Role: "prod"}, wantScreen: true,
			wantStdout: []string{"export AWS_ACCESS_KEY_ID='ASIAPICKED'", "export AWS_REGION='eu-west-1'"}, wantStderr: "These lines hold secrets"},
		{name: "quit", tty: true, result: tui.Result{}, wantScreen: true},
		{name: "the screen fails", tty: true, screenErr: errors.New("terminal closed"), wantScreen: true, wantErr: "terminal closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := cmdtest.Server(t, cmdtest.Routes{})
			s := cmdtest.Session(t, srv, "alice@example.com", time.Now)
			if err := s.Cache.PutCredentials(t.Context(), srv.URL, "prod", creds); err != nil {
				t.Fatal(err)
			}
			ios, _, stdout, stderr := iostreams.Test()
			ios.SetTTY(tc.tty)
			screened := false
			opts := &Options{IO: ios, Env: func(k string) string { return map[string]string{"SHELL": "/bin/bash"}[k] }, Now: time.Now,
				Session: func() (*session.Session, error) {
					if tc.noSession {
						return nil, session.ErrLoginRequired
					}
					return s, nil
				},
				MRUPath: func(string) string { return "" },
				Screen: func(_ context.Context, o tui.Options, _ io.Reader, out io.Writer) (tui.Result, error) {
					screened = true
					if out != ios.ErrOut {
						t.Error("the screen is not drawn on stderr")
					}
					if o.Backend == nil || o.Now == nil {
						t.Error("the screen has no backend or clock")
					}
					return tc.result, tc.screenErr
				},
			}
			err := Run(t.Context(), opts)
			if screened != tc.wantScreen {
				t.Errorf("screen shown: %t, want %t", screened, tc.wantScreen)
			}
			var se *cmdutil.StatusError
			var he *cmdutil.HintError
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.wantExit != 0 && (!errors.As(err, &he) || he.Code != tc.wantExit) {
					t.Errorf("err %v, want exit %d", err, tc.wantExit)
				}
			case tc.wantExit != 0:
				if !errors.As(err, &se) || se.Code != tc.wantExit {
					t.Fatalf("err = %v, want exit %d", err, tc.wantExit)
				}
			case err != nil:
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
			if !strings.Contains(stderr.String(), tc.wantStderr) || (tc.wantStderr == "" && stderr.Len() != 0) {
				t.Errorf("stderr %q, want %q", stderr, tc.wantStderr)
			}
		})
	}
}
