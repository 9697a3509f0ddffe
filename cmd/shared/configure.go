package shared

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jit-access/jit/pkg/awsconfig"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// ConfigureOptions are `jit configure aws`'s inputs (the picker's
// "write a profile" action runs the same).
type ConfigureOptions struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Session    func() (*session.Session, error)
	Executable func() (string, error)

	Path   string
	Prefix string
	Region string
	DryRun bool
}

// ConfigureRun plans and writes (or shows) the change.
func ConfigureRun(ctx context.Context, opts *ConfigureOptions) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	roles, err := client.Roles(ctx)
	if err != nil {
		return err
	}
	// The absolute path of the slim jit-credential-process beside this jit
	// (it starts at a plain Go program's cost), else this jit itself.
	exe, err := opts.Executable()
	if err != nil {
		exe = ""
	}
	exe, direct := awsconfig.Locate(exe)
	profiles := make([]awsconfig.Profile, 0, len(roles))
	for _, r := range roles {
		region := r.Region
		if region == "" {
			region = opts.Region
		}
		profiles = append(profiles, awsconfig.Profile{Name: r.Name, Role: r.Name, Region: region, Server: s.Server, CredentialProcess: exe, Direct: direct})
	}
	profiles = awsconfig.Prefixed(opts.Prefix, profiles)
	path := opts.Path
	if path == "" {
		if path, err = awsconfig.DefaultPath(opts.Env); err != nil {
			return err
		}
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	updated, changed, err := awsconfig.Plan(old, profiles)
	if err != nil {
		var conflict *awsconfig.ConflictError
		if errors.As(err, &conflict) {
			return cmdutil.WithHint(fmt.Errorf("%s: %w", path, err), cmdutil.ExitUsage, "jit configure aws --prefix jit-")
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if !changed {
		fmt.Fprintf(opts.IO.ErrOut, "%s is up to date (%d jit profile(s)).\n", path, len(profiles))
		return nil
	}
	if opts.DryRun {
		_, err := fmt.Fprint(opts.IO.Out, awsconfig.Diff(old, updated))
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := awsconfig.WriteFile(path, updated); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Wrote %d jit profile(s) to %s. Try: aws sts get-caller-identity --profile %s\n",
		len(profiles), path, firstName(profiles))
	return nil
}

func firstName(p []awsconfig.Profile) string {
	if len(p) == 0 {
		return "ROLE"
	}
	return p[0].Name
}
