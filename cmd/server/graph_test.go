package server

import (
	"context"
	"strings"
	"testing"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdGraph(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    GraphOptions
		wantErr string
	}{
		{"defaults to svg", []string{"-c", "jit.yaml"}, GraphOptions{ConfigPath: "jit.yaml", Format: "svg"}, ""},
		{"one role as mermaid", []string{"-c", "jit.yaml", "--role", "admin", "--format", "mermaid"}, GraphOptions{ConfigPath: "jit.yaml", Role: "admin", Format: "mermaid"}, ""},
		{"no config", nil, GraphOptions{}, "--config is required: the server config or policy file to draw"},
		{"bad format", []string{"-c", "jit.yaml", "--format", "png"}, GraphOptions{}, `--format must be svg, mermaid or dot, not "png"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *GraphOptions
			cmd := NewCmdGraph(&cmdutil.Factory{IO: io}, func(_ context.Context, o *GraphOptions) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.ConfigPath != tc.want.ConfigPath || got.Role != tc.want.Role || got.Format != tc.want.Format {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestGraphRunDrawsTheConfigsRolesAndRefusesAnUnknownRole(t *testing.T) {
	io, _, stdout, _ := iostreams.Test()
	if err := GraphRun(t.Context(), &GraphOptions{IO: io, ConfigPath: good(t, ""), Format: "dot"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`label="role readonly"`, `label="role admin"`, `2 of approvers`, `break-glass\ngroups oncall\nup to 1h`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("dot lacks %q:\n%s", want, stdout)
		}
	}
	err := GraphRun(t.Context(), &GraphOptions{IO: io, ConfigPath: good(t, ""), Role: "nope", Format: "svg"})
	if err == nil || !strings.Contains(err.Error(), `there is no role named "nope"`) {
		t.Fatalf("err = %v", err)
	}
}
