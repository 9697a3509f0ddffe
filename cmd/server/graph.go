package server

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/policygraph"
)

// GraphOptions are `jit server graph`'s inputs.
type GraphOptions struct {
	IO *iostreams.IOStreams

	ConfigPath string
	Role       string
	Format     string
}

// NewCmdGraph builds `jit server graph`.
func NewCmdGraph(f *cmdutil.Factory, runF func(context.Context, *GraphOptions) error) *cobra.Command {
	opts := &GraphOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "graph --config FILE [--role R] [--format svg|mermaid|dot]",
		Short: "Draw each role's workflow: who may request, the paths a request takes, their limits, the end",
		Long: `Draw the policy's workflow per role: who may request and what a request needs;
the paths it can take (approved at once by auto_approve, break-glass, N of the
approvers) with their limits; and what happens at the end (extensions, idle
end, review). SVG is drawn by jit itself (no Graphviz needed); mermaid and dot
are text for Markdown pages and Graphviz. --config takes a server config or a
policy file.`,
		Example: "  jit server graph -c jit.yaml > policy.svg\n  jit server graph -c jit.yaml --role prod-admin --format mermaid",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ConfigPath == "" {
				return cmdutil.FlagErrorf("--config is required: the server config or policy file to draw")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return GraphRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the server config or policy file")
	cmd.Flags().StringVar(&opts.Role, "role", "", "draw only this role")
	cmdutil.AddFormatFlag(cmd, &opts.Format, "format", "", "svg", "mermaid", "dot")
	return cmd
}

// GraphRun draws the policy on stdout.
func GraphRun(_ context.Context, opts *GraphOptions) error {
	p, err := loadPolicy(opts.ConfigPath)
	if err != nil {
		return err
	}
	flows, ok := policygraph.Flows(p, opts.Role)
	if !ok {
		return cmdutil.FlagErrorf("there is no role named %q in %s (jit server check-policy lists them)", opts.Role, opts.ConfigPath)
	}
	switch opts.Format {
	case "mermaid":
		return policygraph.Mermaid(opts.IO.Out, flows)
	case "dot":
		return policygraph.DOT(opts.IO.Out, flows)
	}
	return policygraph.SVG(opts.IO.Out, flows)
}
