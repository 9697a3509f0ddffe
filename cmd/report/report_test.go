package report

import (
	"context"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdReport(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		since   time.Duration
		output  string
		wantErr string
	}{
		{"defaults", nil, 30 * 24 * time.Hour, "table", ""},
		{"days and csv", []string{"--since", "90d", "-o", "csv"}, 90 * 24 * time.Hour, "csv", ""},
		{"weeks", []string{"--since", "2w"}, 14 * 24 * time.Hour, "table", ""},
		{"hours json", []string{"--since", "12h", "-o", "json"}, 12 * time.Hour, "json", ""},
		{"bad period", []string{"--since", "lately"}, 0, "", `--since: "lately" is not a period such as 30d or 12h`},
		{"zero days", []string{"--since", "0d"}, 0, "", `--since: "0d" is not a period such as 30d`},
		{"bad output", []string{"-o", "xml"}, 0, "", `--output must be table, json or csv, not "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdReport(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Since != tc.since || got.Output != tc.output {
				t.Fatalf("since %s output %s, want %s %s", got.Since, got.Output, tc.since, tc.output)
			}
		})
	}
}
