// Package credentialprocess is `jit credential-process`, the AWS
// credential_process shim: JSON credentials on stdout, nothing else there,
// never a prompt, never a browser, never a secret on stderr.
package credentialprocess

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/credprocess"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// Options are the shim's inputs.
type Options struct {
	IO      *iostreams.IOStreams
	Session func() (*session.Session, error)
	Role    string
	// Timeout bounds the whole call, so an AWS SDK never hangs on jit.
	Timeout time.Duration
}

// NewCmdCredentialProcess builds `jit credential-process`.
func NewCmdCredentialProcess(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Session: f.Session}
	cmd := &cobra.Command{
		Use:   "credential-process --role ROLE",
		Short: "Print a grant's credentials for AWS credential_process (used by `jit configure aws`)",
		Long: `The AWS credential_process shim. Prints {"Version":1,...} for the role's live
grant from the keyring cache (no network call when fresh), re-vending from the
server when the cached credentials are expired or near their STS expiry and the
grant still lives. With no live grant it exits non-zero and names the jit request
command to run. It never prompts and never opens a browser.`,
		Example: "  # in ~/.aws/config\n  [profile prod-admin]\n  credential_process = jit credential-process --role prod-admin",
		GroupID: "use",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Role == "" {
				return cmdutil.FlagErrorf("--role is required")
			}
			f.IO.NeverPrompt()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Role, "role", "", "the jit role")
	_ = cmd.RegisterFlagCompletionFunc("role", cmdutil.RoleNames(f))
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 60*time.Second, "give up after this long")
	return cmd
}

// Run prints the credentials or fails with a message on stderr. It is also
// the slim jit-credential-process's miss path (that binary serves cache hits
// and hands every miss to this command), and what profiles written by an
// older jit (credential_process = jit credential-process --role X) run.
func Run(ctx context.Context, opts *Options) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	s, err := opts.Session()
	if err != nil {
		return err
	}
	c, err := s.Credentials(ctx, opts.Role)
	if err != nil {
		return err
	}
	return credprocess.Write(opts.IO.Out, credprocess.FromCredentials(c))
}
