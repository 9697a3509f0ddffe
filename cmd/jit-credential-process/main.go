// Command jit-credential-process is jit's AWS credential_process on its own:
// what `jit configure aws` writes into ~/.aws/config. It serves the cached
// credentials itself, in a binary that links only that path (pkg/credpath), so
// the AWS SDKs, which start it before almost every API call near a grant's
// end, pay little more than a process start. On a cache miss it becomes
// `jit credential-process` (exec), which re-vends.
//
// It installs no signal handler: an interrupted call just dies (the kernel
// drops its lock), and not starting the signal-handling machinery is part of
// being cheap to start.
package main

import (
	"context"
	"os"

	"github.com/jit-access/jit/pkg/credpath"
)

func main() {
	os.Exit(credpath.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr, credpath.ExecJit(os.Stderr)))
}
