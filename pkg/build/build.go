// Package build holds the version information stamped in at link time. These
// are the only package-level variables in jit.
package build

// Set by -ldflags "-X github.com/jit-access/jit/pkg/build.Version=..." (see .goreleaser.yaml).
var (
	Version = "dev"
	Commit  = "none"
	Date    = "unknown"
)
