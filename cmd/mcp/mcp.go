// Package mcp is `jit mcp`: the Model Context Protocol server (stdio) an AI
// agent runs with the user's jit login (pkg/mcpserver).
package mcp

import (
	"context"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/jit-access/jit/pkg/build"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/mcpserver"
	"github.com/jit-access/jit/pkg/session"
)

// Options are `jit mcp`'s inputs.
type Options struct {
	Session func() (*session.Session, error)
}

// NewCmdMCP builds `jit mcp`.
func NewCmdMCP(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Session: f.Session}
	return &cobra.Command{
		Use:   "mcp",
		Short: "Serve jit to an AI agent over the Model Context Protocol (stdio)",
		Long: `Serve the Model Context Protocol on stdin and stdout, for an AI agent (Claude
Code, Cursor, …) that runs jit with your login. Its tools list the roles you
may request, request one with a reason, wait for the decision and end a grant.

Every request is marked as made by the agent (its MCP client name) on your
behalf: the server records it, shows it to approvers and audits it, and the
role's agents: rule applies — by default an agent's request always waits for
a person, even where yours would be auto-approved. The agent never gets keys
from jit mcp: it uses the role's AWS profile or jit exec, as you would.`,
		Example: `  # Claude Code
  claude mcp add jit -- jit mcp`,
		GroupID: "access",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
}

// Run serves until stdin closes or ctx ends.
func Run(ctx context.Context, opts *Options) error {
	s, err := opts.Session()
	if err != nil {
		return err
	}
	client, err := s.API()
	if err != nil {
		return err
	}
	return mcpserver.New(client, build.Version).Run(ctx, &sdk.StdioTransport{})
}
