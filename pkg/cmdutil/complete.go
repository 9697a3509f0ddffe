package cmdutil

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// RoleCompletionTimeout bounds the server call behind a role completion: a
// TAB press must never hang on a slow or unreachable server.
const RoleCompletionTimeout = 2 * time.Second

// RoleNames completes a ROLE argument, or the value of a --role flag, with
// the roles the logged-in user may request, each with its description. It
// asks the server (GET /v1/roles) with the keyring-cached login, within
// RoleCompletionTimeout; it never prompts (not even for a file keyring's
// passphrase: completion runs with the terminal on stdin and stderr thrown
// away) and never offers file names. When anything fails (not logged in, no
// server, a timeout) it offers nothing.
//
// Attach it as a command's ValidArgsFunction for a positional ROLE, or with
// cmd.RegisterFlagCompletionFunc("role", cmdutil.RoleNames(f)) for --role.
func RoleNames(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return roleNames(f, RoleCompletionTimeout)
}

func roleNames(f *Factory, timeout time.Duration) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const directive = cobra.ShellCompDirectiveNoFileComp
		// A positional ROLE comes first; nothing else is completed here.
		// (A --role flag's completion also gets the positional args: the
		// commands with --role take none.)
		if len(args) > 0 {
			return nil, directive
		}
		f.IO.NeverPrompt()
		ctx := context.Background()
		if cmd != nil && cmd.Context() != nil {
			ctx = cmd.Context()
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		s, err := f.Session()
		if err != nil {
			return nil, directive
		}
		client, err := s.API()
		if err != nil {
			return nil, directive
		}
		roles, err := client.Roles(ctx)
		if err != nil {
			return nil, directive
		}
		var out []string
		for _, r := range roles {
			if !strings.HasPrefix(r.Name, toComplete) {
				continue
			}
			if d := strings.Join(strings.Fields(r.Description), " "); d != "" {
				out = append(out, r.Name+"\t"+d)
			} else {
				out = append(out, r.Name)
			}
		}
		return out, directive
	}
}
