// Command jit is just-in-time access to AWS: a CLI for developers and
// approvers, and the approval server, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jit-access/jit/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
