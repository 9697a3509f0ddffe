package request

import (
	"context"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"defaults", []string{"prod"}, Options{Role: "prod", Output: "text"}, ""},
		{"all flags", []string{"prod", "--reason", "INC-1", "--for", "90m", "--ticket", "T-1", "--no-wait", "--break-glass", "-o", "json"},
			Options{Role: "prod", Reason: "INC-1", For: 90 * time.Minute, Ticket: "T-1", NoWait: true, BreakGlass: true, Output: "json"}, ""},
		{"no role", nil, Options{}, "accepts 1 arg(s), received 0"},
		{"bad output", []string{"prod", "-o", "yaml"}, Options{}, `--output must be text or json, not "yaml"`},
		{"bad duration", []string{"prod", "--for", "soon"}, Options{}, `invalid argument "soon" for "--for" flag: time: invalid duration "soon"`},
		{"negative duration", []string{"prod", "--for", "-1h"}, Options{}, "--for must be positive, like 30m or 2h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IO: io}
			var got *Options
			cmd := NewCmdRequest(f, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Role != tc.want.Role || got.Reason != tc.want.Reason || got.For != tc.want.For || got.Ticket != tc.want.Ticket ||
				got.NoWait != tc.want.NoWait || got.BreakGlass != tc.want.BreakGlass || got.Output != tc.want.Output {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestNewCmdWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"an id", []string{"req_1"}, Options{ResumeID: "req_1", Output: "text"}, ""},
		{"json", []string{"req_1", "-o", "json"}, Options{ResumeID: "req_1", Output: "json"}, ""},
		{"no id", nil, Options{}, "accepts 1 arg(s), received 0"},
		{"bad output", []string{"req_1", "-o", "yaml"}, Options{}, `--output must be text or json, not "yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdWait(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.ResumeID != tc.want.ResumeID || got.Output != tc.want.Output || got.Role != "" {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}
