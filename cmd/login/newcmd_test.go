package login

import (
	"context"
	"testing"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdLogin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		server    string // the global --server
		wantNoBr  bool
		wantSave  bool
		wantError string
	}{
		{"defaults", nil, "", false, false, ""},
		{"no browser", []string{"--no-browser"}, "", true, false, ""},
		{"--server is remembered", nil, "https://jit.example.com", false, true, ""},
		{"an argument", []string{"https://jit.example.com"}, "", false, false, `unknown command "https://jit.example.com" for "login"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IO: io, Flags: cmdutil.GlobalFlags{Server: tc.server}}
			var got *Options
			cmd := NewCmdLogin(f, func(_ context.Context, o *Options) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(io.ErrOut)
			cmd.SetErr(io.ErrOut)
			err := cmd.Execute()
			if tc.wantError != "" {
				if err == nil || err.Error() != tc.wantError {
					t.Fatalf("err = %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.NoBrowser != tc.wantNoBr || got.SaveServer != tc.wantSave {
				t.Fatalf("options %+v, want no-browser %t save %t", *got, tc.wantNoBr, tc.wantSave)
			}
		})
	}
}
