package use

import (
	"context"
	"strings"
	"testing"

	"github.com/jit-access/jit/cmd/shared"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdExecNeedsTheCommandAfterDashes(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IO: io, Env: func(string) string { return "" }}
	var got *shared.UseOptions
	cmd := NewCmdExec(f, func(_ context.Context, o *shared.UseOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"prod", "--", "aws", "s3", "ls"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Role != "prod" || strings.Join(got.Command, " ") != "aws s3 ls" {
		t.Fatalf("%+v", got)
	}
	cmd = NewCmdExec(f, func(context.Context, *shared.UseOptions) error { return nil })
	cmd.SetArgs([]string{"prod", "aws", "--", "s3"})
	cmd.SetErr(io.ErrOut)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "put the command after --") {
		t.Fatalf("err = %v", err)
	}
}
