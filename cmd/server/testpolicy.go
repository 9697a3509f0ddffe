package server

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/policytest"
)

// TestPolicyOptions are `jit server test-policy`'s inputs.
type TestPolicyOptions struct {
	IO *iostreams.IOStreams

	ConfigPath string
	TestsPath  string
	// JUnitPath, when set, also gets the results as JUnit XML.
	JUnitPath string
}

// NewCmdTestPolicy builds `jit server test-policy`.
func NewCmdTestPolicy(f *cmdutil.Factory, runF func(context.Context, *TestPolicyOptions) error) *cobra.Command {
	opts := &TestPolicyOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "test-policy --config FILE TESTS.yaml",
		Short: "Run policy tests: cases of who asks for what, and the outcome the policy must give",
		Long: `Run policy tests written as code. Each case names a principal (user, groups),
a role, a duration, break-glass or an extension, and what the policy must answer:
auto_approved, break_glass, needs_approval (how many approvals, who may and may
not approve), extends, or refused (with a substring of the reason and the rule
that refused). One line per case names the rule that decided; any failure exits 1.
--config takes a server config or a policy file (admins:, roles:). See
docs/policy.md#policy-tests.`,
		Example: "  jit server test-policy -c jit.yaml policy-tests.yaml\n  jit server test-policy -c proposed.yaml policy-tests.yaml --junit policy-tests.xml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ConfigPath == "" {
				return cmdutil.FlagErrorf("--config is required: the server config or policy file to test")
			}
			opts.TestsPath = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return TestPolicyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the server config or policy file")
	cmd.Flags().StringVar(&opts.JUnitPath, "junit", "", "also write the results as JUnit XML to this file")
	return cmd
}

// TestPolicyRun runs the tests file's cases against the policy and prints
// one line per case; a failed case is an error (exit 1).
func TestPolicyRun(_ context.Context, opts *TestPolicyOptions) error {
	p, err := loadPolicy(opts.ConfigPath)
	if err != nil {
		return err
	}
	suite, err := policytest.Load(opts.TestsPath)
	if err != nil {
		return cmdutil.WithHint(err, cmdutil.ExitError, "fix the lines named above; docs/policy.md#policy-tests lists every key")
	}
	results := policytest.Run(p, suite)
	if err := policytest.WriteLines(opts.IO.Out, results); err != nil {
		return err
	}
	if opts.JUnitPath != "" {
		if err := writeJUnit(opts.JUnitPath, suite.Name, results); err != nil {
			return err
		}
	}
	if n := policytest.Failed(results); n > 0 {
		return cmdutil.WithHint(fmt.Errorf("%d of %d policy test(s) failed", n, len(results)), cmdutil.ExitError,
			"fix the policy, or the expectation if the policy is right; the lines above name the rule that decided")
	}
	return nil
}

func writeJUnit(path, suite string, results []policytest.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if err := policytest.WriteJUnit(f, suite, results); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
