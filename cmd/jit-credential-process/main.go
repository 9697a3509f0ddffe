// Command jit-credential-process is jit's AWS credential_process on its own:
// what `jit configure aws` writes into ~/.aws/config. It does exactly what
// `jit credential-process` does, in a binary that links only the credential
// path (pkg/credpath), so the AWS SDKs, which start it before almost every API
// call near a grant's end, pay little more than a process start.
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
	os.Exit(credpath.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
