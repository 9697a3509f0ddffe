package version

import (
	"context"
	"runtime"
	"testing"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdVersion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no args", nil, ""},
		{"an argument", []string{"extra"}, `unknown command "extra" for "version"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdVersion(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Version != build.Version || got.Commit != build.Commit || got.Date != build.Date || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Fatalf("options %+v, want the link-time build stamps", *got)
			}
		})
	}
}

func TestVersionRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"release", Options{Version: "v1.4.0", Commit: "abc1234", Date: "2026-05-01", Platform: "linux/amd64"},
			"jit v1.4.0 (commit abc1234, built 2026-05-01, linux/amd64)\n"},
		{"dev build", Options{Version: "dev", Commit: "none", Date: "unknown", Platform: "darwin/arm64"},
			"jit dev (commit none, built unknown, darwin/arm64)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, stdout, stderr := iostreams.Test()
			tc.opts.IO = io
			if err := Run(t.Context(), &tc.opts); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != tc.want || stderr.Len() != 0 {
				t.Fatalf("stdout %q stderr %q, want stdout %q", stdout, stderr, tc.want)
			}
		})
	}
}
