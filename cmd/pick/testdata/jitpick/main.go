// Command jitpick is jit with `jit pick` added when the root command does
// not have it yet; the tmux test builds it only in that case.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/jit-access/jit/cmd"
	"github.com/jit-access/jit/cmd/pick"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	f := cmdutil.New(iostreams.System())
	root := cmd.NewRootCmd(f)
	if c, _, err := root.Find([]string{"pick"}); err != nil || c == root {
		root.AddCommand(pick.NewCmdPick(f))
	}
	root.SetArgs(os.Args[1:])
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "jit:", err)
		os.Exit(1)
	}
}
