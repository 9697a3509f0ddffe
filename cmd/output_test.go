package cmd

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jit-access/jit/pkg/cmdutil"
	"github.com/jit-access/jit/pkg/iostreams"
)

// notOutputFlags are flags that look like an output format and are not the
// choice of what stdout prints, with the reason.
var notOutputFlags = map[string]string{
	"jit server aws-setup --format": "picks the syntax of the infrastructure files it writes (required, no default); stdout is not data",
}

// TestEveryOutputFlagIsTheSharedOne fails when a command registers its own
// --output (or a -o, --json or --format) instead of cmdutil.AddOutputFlag or
// AddFormatFlag, the one helper that registers, checks and renders output
// formats.
func TestEveryOutputFlagIsTheSharedOne(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	seen := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			switch {
			case fl.Annotations[cmdutil.OutputAnnotation] != nil:
				seen++
			case notOutputFlags[c.CommandPath()+" --"+fl.Name] != "":
			case fl.Name == "output", fl.Shorthand == "o", fl.Name == "json", fl.Name == "format":
				t.Errorf("%s: --%s is an output-format flag of its own; use cmdutil.AddOutputFlag (or AddFormatFlag)", c.CommandPath(), fl.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRootCmd(cmdutil.New(io)))
	if seen < 9 {
		t.Fatalf("found %d --output flags; the check would prove little", seen)
	}
}

// TestOutputFlagRefusesAFormatTheCommandDoesNotOffer runs a real command
// with a format it lacks: the usage error lists the formats it has.
func TestOutputFlagRefusesAFormatTheCommandDoesNotOffer(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"roles", "-o", "yaml"}, `--output must be table or json, not "yaml"`},
		{[]string{"show", "req_1", "--output", "table"}, `--output must be text or json, not "table"`},
		{[]string{"report", "-o", "xml"}, `--output must be table, json or csv, not "xml"`},
		{[]string{"audit", "query", "-o", "csv"}, `--output must be table or json, not "csv"`},
		{[]string{"audit", "export", "--format", "cef"}, `--format must be jsonl or ocsf, not "cef"`},
	} {
		_, _, err := runJit(t, tc.args...)
		var flagErr *cmdutil.FlagError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &flagErr) {
			t.Errorf("jit %s: err = %v, want a usage error %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
