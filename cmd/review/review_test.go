package review

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdReview(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"queue", nil, Options{Output: "table"}, ""},
		{"timeline", []string{"req_1"}, Options{ID: "req_1", Output: "table"}, ""},
		{"ok", []string{"req_1", "--ok"}, Options{ID: "req_1", OK: true, Output: "table"}, ""},
		{"ok with note", []string{"req_1", "--ok", "--note", "fine"}, Options{ID: "req_1", OK: true, Note: "fine", Output: "table"}, ""},
		{"concern", []string{"req_1", "--concern", "--note", "no ticket", "-o", "json"}, Options{ID: "req_1", Concern: true, Note: "no ticket", Output: "json"}, ""},
		{"concern without note", []string{"req_1", "--concern"}, Options{}, "--concern needs --note saying what is wrong"},
		{"both", []string{"req_1", "--ok", "--concern", "--note", "x"}, Options{}, "use --ok or --concern, not both"},
		{"verdict without id", []string{"--ok"}, Options{}, "name the grant to review: jit review ID --ok"},
		{"note alone", []string{"req_1", "--note", "x"}, Options{}, "--note goes with --ok or --concern"},
		{"bad output", []string{"-o", "yaml"}, Options{}, `--output must be table or json, not "yaml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdReview(&cmdutil.Factory{IO: io}, func(_ context.Context, o *Options) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.ID != tc.want.ID || got.OK != tc.want.OK || got.Concern != tc.want.Concern || got.Note != tc.want.Note || got.Output != tc.want.Output {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestTimelineShowsEventsActivityAndReviewState(t *testing.T) {
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	tl := &api.Timeline{
		Request: api.Request{ID: "req_1", Requester: "alice@example.com", Role: "oncall", BreakGlass: true, ReviewRequired: true,
			Reason: "pager", StartsAt: at, Activity: &api.Activity{Calls: 3, FirstUse: at, LastUse: at.Add(time.Minute),
				Actions: []api.ActionCount{{Action: "s3:GetObject", Calls: 3}}}},
		Events: []api.AuditEvent{
			{Time: at, Type: "request.created", Actor: "alice@example.com", Reason: "pager"},
			{Time: at, Type: "credentials.vended", Actor: "alice@example.com", Detail: map[string]string{"access_key_id": "ASIA1", "expires": "x"}},
			{Time: at.Add(15 * time.Minute), Type: "grant.activity", Actor: "activity", Detail: map[string]string{"calls": "3", "actions": "s3:GetObject=3"}},
		},
	}
	var b bytes.Buffer
	if err := Timeline(&b, tl, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"(break-glass)", "request.created", "credentials.vended", "grant.activity", "actions=s3:GetObject=3",
		"3 calls", "s3:GetObject ×3", "waiting: jit review req_1"} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ASIA1") {
		t.Errorf("timeline prints the access key id:\n%s", out)
	}
}
