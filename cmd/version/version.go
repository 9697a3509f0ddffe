// Package version is `jit version`.
package version

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

// Options are `jit version`'s inputs.
type Options struct {
	IO *iostreams.IOStreams
	// Version, Commit and Date are stamped at link time (pkg/build).
	Version, Commit, Date string
	// Platform is GOOS/GOARCH.
	Platform string
}

// NewCmdVersion prints the version, commit and build date stamped at link time.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Version: build.Version, Commit: build.Commit, Date: build.Date,
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	return &cobra.Command{
		Use:     "version",
		Short:   "Print jit's version, commit and build date",
		GroupID: "admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
}

// Run prints one line: version, commit, build date and platform.
func Run(_ context.Context, opts *Options) error {
	_, err := fmt.Fprintf(opts.IO.Out, "jit %s (commit %s, built %s, %s)\n", opts.Version, opts.Commit, opts.Date, opts.Platform)
	return err
}
