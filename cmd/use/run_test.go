package use

import (
	"context"
	"testing"

	"github.com/jit-access/jit/cmd/shared"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/console"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdAssume(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		shell string // $SHELL
		want  shared.UseOptions
	}{
		{"shell from $SHELL", []string{"prod"}, "/usr/bin/fish", shared.UseOptions{Role: "prod", Shell: "fish"}},
		{"flags", []string{"prod", "--shell", "powershell", "--region", "eu-west-1"}, "/bin/zsh", shared.UseOptions{Role: "prod", Shell: "powershell", Region: "eu-west-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			f := &cmdutil.Factory{IO: io, Env: func(k string) string { return map[string]string{"SHELL": tc.shell}[k] }}
			var got *shared.UseOptions
			cmd := NewCmdAssume(f, func(_ context.Context, o *shared.UseOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Role != tc.want.Role || got.Shell != tc.want.Shell || got.Region != tc.want.Region {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestNewCmdConsole(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	var got *shared.UseOptions
	cmd := NewCmdConsole(&cmdutil.Factory{IO: io}, func(_ context.Context, o *shared.UseOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"prod"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Role != "prod" || got.PrintURL || got.FederationURL != console.DefaultFederationURL || got.Destination != console.DefaultDestination {
		t.Fatalf("defaults %+v", *got)
	}
	cmd = NewCmdConsole(&cmdutil.Factory{IO: io}, func(_ context.Context, o *shared.UseOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"prod", "--url", "--federation-url", "https://signin.amazonaws.cn/federation", "--destination", "https://console.amazonaws.cn/s3"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.PrintURL || got.FederationURL != "https://signin.amazonaws.cn/federation" || got.Destination != "https://console.amazonaws.cn/s3" {
		t.Fatalf("flags %+v", *got)
	}
}
