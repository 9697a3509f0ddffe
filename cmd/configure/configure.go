// Package configure is `jit configure aws`: a managed block of
// [profile ROLE] entries whose credential_process is jit, in ~/.aws/config
// (or $AWS_CONFIG_FILE), leaving every other byte of the file unchanged.
package configure

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/awsconfig"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// Options are `jit configure aws`'s inputs.
type Options struct {
	IO         *iostreams.IOStreams
	Env        func(string) string
	Session    func() (*session.Session, error)
	Executable func() (string, error)

	Path   string
	Prefix string
	Region string
	DryRun bool
}

// NewCmdConfigure builds `jit configure` with its `aws` subcommand.
func NewCmdConfigure(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	parent := &cobra.Command{Use: "configure", Short: "Write jit's settings into other tools' config files", GroupID: "use"}
	opts := &Options{IO: f.IO, Env: f.Env, Session: f.Session, Executable: f.Executable}
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Add a [profile] with jit's credential_process for each role you may request",
		Long: `Write one [profile ROLE] per role you may request into ~/.aws/config (or
$AWS_CONFIG_FILE), inside a block between marker comments that jit owns. Every
byte outside the block stays as it was; running it again changes nothing unless
your roles changed. A profile name you already use outside the block is an error:
pick a --prefix.

Each profile runs the absolute path of jit-credential-process, the small binary
shipped beside jit (or jit credential-process when it is missing). Run this
again after moving jit; jit doctor says when a profile's path is stale.`,
		Example: "  jit configure aws --dry-run\n  jit configure aws --prefix jit- --region eu-west-1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Path, "file", "", "the AWS config file (default: $AWS_CONFIG_FILE, else ~/.aws/config)")
	cmd.Flags().StringVar(&opts.Prefix, "prefix", "", "put this before each profile name")
	cmd.Flags().StringVar(&opts.Region, "region", "", "region for profiles whose role names none")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the change as a diff and write nothing")
	parent.AddCommand(cmd)
	return parent
}

// Run plans and writes (or shows) the change.
func Run(ctx context.Context, opts *Options) error {
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
