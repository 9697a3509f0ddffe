// Package version is `jit version`.
package version

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/cmdutil"
)

// NewCmdVersion prints the version, commit and build date stamped at link time.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print jit's version, commit and build date",
		GroupID: "admin",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(f.IO.Out, "jit %s (commit %s, built %s, %s/%s)\n",
				build.Version, build.Commit, build.Date, runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
