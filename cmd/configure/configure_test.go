package configure

import (
	"context"
	"testing"

	"github.com/jit-access/jit/cmd/shared"

	"github.com/jit-access/jit/internal/cmdtest"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdConfigure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    shared.ConfigureOptions
		wantErr string
	}{
		{"defaults", []string{"aws"}, shared.ConfigureOptions{}, ""},
		{"all flags", []string{"aws", "--file", "cfg", "--prefix", "jit-", "--region", "eu-west-1", "--dry-run"},
			shared.ConfigureOptions{Path: "cfg", Prefix: "jit-", Region: "eu-west-1", DryRun: true}, ""},
		{"an argument", []string{"aws", "prod"}, shared.ConfigureOptions{}, `unknown command "prod" for "configure aws"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			io, _, _, _ := iostreams.Test()
			var got *shared.ConfigureOptions
			cmd := NewCmdConfigure(&cmdutil.Factory{IO: io}, func(_ context.Context, o *shared.ConfigureOptions) error { got = o; return nil })
			if !cmdtest.Execute(t, cmd, io.ErrOut, tc.args, tc.wantErr) {
				return
			}
			if got.Path != tc.want.Path || got.Prefix != tc.want.Prefix || got.Region != tc.want.Region || got.DryRun != tc.want.DryRun {
				t.Fatalf("options %+v, want %+v", *got, tc.want)
			}
		})
	}
}
