package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/audit"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

// KeygenOptions are `jit server keygen`'s flags.
type KeygenOptions struct {
	IO   *iostreams.IOStreams
	Name string
	Out  string
}

// NewCmdKeygen builds `jit server keygen`.
func NewCmdKeygen(f *cmdutil.Factory, runF func(context.Context, *KeygenOptions) error) *cobra.Command {
	opts := &KeygenOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "keygen --name NAME --out FILE",
		Short: "Make the Ed25519 key that signs audit checkpoints; prints the verifier key",
		Long: `Make the key that signs the audit log's checkpoints (signed notes, as Go's
checksum database uses). The signing key is written to --out (mode 0600, never
overwritten); set audit.signing_key_file to it. The verifier key is printed on
stdout: publish it (clients also read it from GET /v1/audit/key and pin it).
NAME names the log, e.g. the server's host name; it is each checkpoint's origin.`,
		Example: "  jit server keygen --name jit.example.com --out /etc/jit/checkpoint.key",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Name == "" || opts.Out == "" {
				return cmdutil.FlagErrorf("--name and --out are required")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return KeygenRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "the log's name (e.g. the server's host name)")
	cmd.Flags().StringVar(&opts.Out, "out", "", "file to write the signing key to")
	return cmd
}

// KeygenRun writes a new signing key (never over an old one) and prints its
// verifier key.
func KeygenRun(_ context.Context, opts *KeygenOptions) error {
	skey, vkey, err := audit.GenerateKey(opts.Name)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "the name must be printable ASCII without spaces or '+'")
	}
	fh, err := os.OpenFile(opts.Out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return cmdutil.WithHint(err, cmdutil.ExitError, "a key is already there; replacing it starts a new log identity for every client, so remove it yourself if you mean to")
	}
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(fh, skey); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote the signing key to %s; set audit.signing_key_file: %s\n", opts.Out, opts.Out)
	_, err = fmt.Fprintln(opts.IO.Out, vkey)
	return err
}
