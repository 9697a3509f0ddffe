package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// OutputJSON is the --output format every listing and result offers.
const OutputJSON = "json"

// OutputAnnotation marks a flag registered by AddOutputFlag, so a test can
// prove that every --output of the tree is this one (cmd's
// TestEveryOutputFlagIsTheSharedOne).
const OutputAnnotation = "jit_output_formats"

// AddOutputFlag registers -o/--output on cmd, bound to format, offering
// formats (the first is the default), and refuses any other value before the
// command runs, with a usage error that lists them. It is the one way a jit
// command chooses between its human view (a table or text) and JSON (model:
// cli/cli's pkg/cmdutil/json_flags.go).
func AddOutputFlag(cmd *cobra.Command, format *string, formats ...string) {
	AddFormatFlag(cmd, format, "output", "o", formats...)
}

// AddFormatFlag is AddOutputFlag under another flag name, for a command whose
// stdout is a stream in one of formats and whose flag has its own name
// (`jit audit export --format jsonl|ocsf`). shorthand may be "".
func AddFormatFlag(cmd *cobra.Command, format *string, name, shorthand string, formats ...string) {
	if len(formats) == 0 {
		panic("cmdutil.AddFormatFlag: no formats")
	}
	list := orList(formats)
	cmd.Flags().StringVarP(format, name, shorthand, formats[0], "output format: "+list)
	_ = cmd.Flags().SetAnnotation(name, OutputAnnotation, formats)
	_ = cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if !slices.Contains(formats, *format) {
			return FlagErrorf("--%s must be %s, not %q", name, list, *format)
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// Render writes v to w as indented JSON when format is OutputJSON, else
// writes the command's human view (its table or text) with human.
func Render(w io.Writer, format string, v any, human func(io.Writer) error) error {
	if format == OutputJSON {
		return WriteJSON(w, v)
	}
	return human(w)
}

// WriteJSON writes v as indented JSON (the --output json of every listing).
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// orList is "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return fmt.Sprintf("%s or %s", strings.Join(s[:len(s)-1], ", "), s[len(s)-1])
}
