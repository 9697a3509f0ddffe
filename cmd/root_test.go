package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jit-access/jit/pkg/api"
	"github.com/jit-access/jit/pkg/apiclient"
	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
	"github.com/jit-access/jit/pkg/session"
)

// TestErrorsBecomeDocumentedExitCodesWithAHint checks the one place where
// errors turn into exit codes.
func TestErrorsBecomeDocumentedExitCodesWithAHint(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		stderr string
	}{
		{fmt.Errorf("token: %w", session.ErrLoginRequired), cmdutil.ExitLoginRequired, "Try: jit login"},
		{&session.NoGrantError{Role: "prod"}, cmdutil.ExitNoGrant, `Try: jit request prod --reason "..." --for 1h`},
		{&apiclient.ServerError{Status: 403, Body: api.Error{Code: api.CodeForbidden, Message: "no", Hint: "ask bob"}}, cmdutil.ExitDenied, "Try: ask bob"},
		{&apiclient.ServerError{Status: 401, Body: api.Error{Code: api.CodeUnauthenticated, Message: "expired"}}, cmdutil.ExitLoginRequired, "jit: expired"},
		{&apiclient.UnreachableError{URL: "https://jit", Err: errors.New("refused")}, cmdutil.ExitUnreachable, "cannot reach the jit server"},
		{cmdutil.FlagErrorf("bad"), cmdutil.ExitUsage, "jit: bad"},
		{cmdutil.WithHint(errors.New("x"), cmdutil.ExitDenied, "do y"), cmdutil.ExitDenied, "Try: do y"},
		{&cmdutil.StatusError{Code: cmdutil.ExitPending}, cmdutil.ExitPending, ""},
		{errors.New("plain"), cmdutil.ExitError, "jit: plain"},
	} {
		io, _, _, errOut := iostreams.Test()
		f := cmdutil.New(io)
		if got := printError(context.Background(), f, tc.err); got != tc.code {
			t.Errorf("%v: exit %d, want %d", tc.err, got, tc.code)
		}
		if !strings.Contains(errOut.String(), tc.stderr) {
			t.Errorf("%v: stderr %q lacks %q", tc.err, errOut.String(), tc.stderr)
		}
	}
}

func TestEveryCommandHasAShortHelpAndAGroup(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	root := NewRootCmd(cmdutil.New(io))
	for _, c := range root.Commands() {
		if c.Short == "" {
			t.Errorf("%s has no Short", c.Name())
		}
		if c.GroupID == "" && c.Name() != "help" && c.Name() != "completion" {
			t.Errorf("%s is in no help group", c.Name())
		}
	}
}
