package use

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

func TestExecRefusesToNestInsideAnotherGrant(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	called := false
	opts := &Options{IO: io, Role: "prod", Command: []string{"true"},
		Env:     func(k string) string { return map[string]string{"JIT_ROLE": "staging"}[k] },
		Session: func() (*session.Session, error) { called = true; return nil, errors.New("unused") },
	}
	err := ExecRun(context.Background(), opts)
	var hint *cmdutil.HintError
	if !errors.As(err, &hint) || hint.Code != cmdutil.ExitUsage || !strings.Contains(err.Error(), "already inside jit exec for staging") {
		t.Fatalf("err = %v", err)
	}
	if called {
		t.Fatal("fetched credentials before refusing")
	}
}

func TestNewCmdExecNeedsTheCommandAfterDashes(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IO: io, Env: func(string) string { return "" }}
	var got *Options
	cmd := NewCmdExec(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"prod", "--", "aws", "s3", "ls"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Role != "prod" || strings.Join(got.Command, " ") != "aws s3 ls" {
		t.Fatalf("%+v", got)
	}
	cmd = NewCmdExec(f, func(context.Context, *Options) error { return nil })
	cmd.SetArgs([]string{"prod", "aws", "--", "s3"})
	cmd.SetErr(io.ErrOut)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "put the command after --") {
		t.Fatalf("err = %v", err)
	}
}
