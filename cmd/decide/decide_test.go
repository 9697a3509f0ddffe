package decide

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdsParseFlagsAndRequireWhatTheyNeed(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    Options
		wantErr string
	}{
		{[]string{"approve", "req_1", "--comment", "ok"}, Options{Action: Approve, ID: "req_1", Comment: "ok"}, ""},
		{[]string{"deny", "req_1", "--reason", "no"}, Options{Action: Deny, ID: "req_1", Comment: "no"}, ""},
		{[]string{"deny", "req_1"}, Options{}, "deny needs --reason"},
		{[]string{"revoke", "req_1"}, Options{Action: Revoke, ID: "req_1"}, ""},
		{[]string{"cancel", "req_1", "--reason", "oops"}, Options{Action: Cancel, ID: "req_1", Comment: "oops"}, ""},
		{[]string{"extend", "req_1", "--for", "30m"}, Options{Action: Extend, ID: "req_1", For: 30 * time.Minute}, ""},
		{[]string{"extend", "req_1"}, Options{}, "extend needs --for, like --for 30m"},
		{[]string{"approve"}, Options{}, "accepts 1 arg(s), received 0"},
	} {
		io, _, _, _ := iostreams.Test()
		f := &cmdutil.Factory{IO: io}
		var got *Options
		byName := map[string]bool{}
		for _, cmd := range NewCmds(f, func(_ context.Context, o *Options) error { got = o; return nil }) {
			byName[cmd.Name()] = true
			if cmd.Name() != tc.args[0] {
				continue
			}
			cmd.SetArgs(tc.args[1:])
			cmd.SetOut(io.ErrOut)
			cmd.SetErr(io.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%v: %v", tc.args, err)
				continue
			}
			if got.Action != tc.want.Action || got.ID != tc.want.ID || got.Comment != tc.want.Comment || got.For != tc.want.For {
				t.Errorf("%v: options %+v, want %+v", tc.args, *got, tc.want)
			}
		}
		if !byName[tc.args[0]] {
			t.Errorf("no command %s", tc.args[0])
		}
	}
}

func TestSummarySaysAnExtensionWaitsForApprovers(t *testing.T) {
	ends := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	x := &api.Extension{DurationSeconds: 3600, ApprovalsNeeded: 2, Why: "a break-glass grant extends alone only up to its break_glass.max_duration of 30m"}
	r := &api.Request{ID: "req_1", Role: "oncall", Requester: "alice@example.com", State: api.StateActive, EndsAt: ends, PendingExtension: x}
	got := summary(Extend, r)
	for _, want := range []string{"waits for approval", "break_glass.max_duration of 30m", "jit approve req_1", "1h"} {
		if !strings.Contains(got, want) {
			t.Errorf("extend summary %q lacks %q", got, want)
		}
	}
	x.Approvals = []api.Decision{{By: "bob@example.com", Approve: true}}
	if got := summary(Approve, r); !strings.Contains(got, "extension of req_1") || !strings.Contains(got, "1 more approval") {
		t.Errorf("approve summary %q", got)
	}
	r.PendingExtension = nil
	if got := summary(Deny, r); !strings.Contains(got, "Denied the extension of req_1") {
		t.Errorf("deny summary %q", got)
	}
	if got := summary(Extend, r); !strings.Contains(got, "Extended req_1") {
		t.Errorf("plain extend summary %q", got)
	}
}
