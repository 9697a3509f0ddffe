package cmdutil

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestAddOutputFlagDefaultsToTheFirstFormatAndRefusesOthers(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{nil, "table", ""},
		{[]string{"-o", "json"}, "json", ""},
		{[]string{"--output", "csv"}, "csv", ""},
		{[]string{"-o", "yaml"}, "", `--output must be table, json or csv, not "yaml"`},
	} {
		var format string
		ran, preRan := false, false
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { ran = true; return nil },
			PreRunE: func(*cobra.Command, []string) error { preRan = true; return nil }}
		AddOutputFlag(cmd, &format, "table", OutputJSON, "csv")
		cmd.SetArgs(tc.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tc.wantErr != "" {
			var fe *FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.wantErr) || ran || preRan {
				t.Errorf("%v: err = %v (ran %v, pre-run %v), want the usage error %q before anything runs", tc.args, err, ran, preRan, tc.wantErr)
			}
			continue
		}
		if err != nil || format != tc.want || !ran || !preRan {
			t.Errorf("%v: format %q, err %v, ran %v, pre-run kept %v; want %q", tc.args, format, err, ran, preRan, tc.want)
		}
	}
}

func TestRenderWritesJSONOnlyWhenAsked(t *testing.T) {
	v := map[string]int{"a": 1}
	var out bytes.Buffer
	human := func(w io.Writer) error { _, err := io.WriteString(w, "a is 1\n"); return err }
	if err := Render(&out, OutputJSON, v, human); err != nil || out.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("json: %q, %v", out.String(), err)
	}
	out.Reset()
	if err := Render(&out, "table", v, human); err != nil || out.String() != "a is 1\n" {
		t.Errorf("table: %q, %v", out.String(), err)
	}
}
