// Command jit-credential-process is jit's AWS credential_process on its own:
// what `jit configure aws` writes into ~/.aws/config. It does exactly what
// `jit credential-process` does, in a binary that links only the credential
// path (pkg/credpath), so the AWS SDKs, which start it before almost every API
// call near a grant's end, pay little more than a process start.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jit-access/jit/pkg/credpath"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := credpath.Main(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
