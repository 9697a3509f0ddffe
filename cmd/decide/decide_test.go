package decide

import (
	"context"
	"testing"
	"time"

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
