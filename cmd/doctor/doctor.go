// Package doctor is `jit doctor`: it wires pkg/doctor's checks (the server,
// the login, the keyring, the clock, the AWS profiles) to the Factory and
// prints one line per check.
package doctor

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credcache"
	"github.com/jit-access/jit/pkg/doctor"
	"github.com/jit-access/jit/pkg/iostreams"
)

// Options are `jit doctor`'s inputs.
type Options struct {
	IO   *iostreams.IOStreams
	Deps doctor.Deps
}

// NewCmdDoctor builds `jit doctor`.
func NewCmdDoctor(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Deps: doctor.Deps{
		Server:     f.ServerURL,
		Keyring:    func() (doctor.Keyring, error) { return keyring(f.Cache) },
		HTTPClient: f.HTTPClient,
		Session:    f.Session,
		Env:        f.Env,
		Now:        f.Now,
		Executable: f.Executable,
		GOOS:       runtime.GOOS,
		Compiled:   credcache.CompiledBackends(),
	}}
	return &cobra.Command{
		Use:     "doctor",
		Short:   "Check the server, your login, the keyring, the clock and your AWS profiles",
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

// keyring opens the cache; an error yields a nil interface, not a nil
// *Cache inside one.
func keyring(open func() (*credcache.Cache, error)) (doctor.Keyring, error) {
	c, err := open()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Run prints each check as "ok  ", "WARN" or "FAIL" with its name and
// message, and exits 1 when one failed.
func Run(ctx context.Context, opts *Options) error {
	failed := 0
	for _, c := range doctor.Run(ctx, opts.Deps) {
		mark := "ok  "
		switch {
		case !c.OK:
			mark = "FAIL"
			failed++
		case c.Warn:
			mark = "WARN"
		}
		fmt.Fprintf(opts.IO.Out, "%s %-10s %s\n", mark, c.Name, c.Msg)
	}
	if failed > 0 {
		return &cmdutil.StatusError{Code: cmdutil.ExitError}
	}
	return nil
}
