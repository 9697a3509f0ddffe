package mcp

import (
	"context"
	"testing"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func TestNewCmdMCPTakesNoArguments(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := &cmdutil.Factory{IO: io}
	ran := false
	cmd := NewCmdMCP(f, func(context.Context, *Options) error { ran = true; return nil })
	cmd.SetArgs([]string{"extra"})
	if err := cmd.Execute(); err == nil || ran {
		t.Fatalf("jit mcp extra: err %v, ran %t", err, ran)
	}
	cmd = NewCmdMCP(f, func(context.Context, *Options) error { ran = true; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || !ran {
		t.Fatalf("jit mcp: err %v, ran %t", err, ran)
	}
}
