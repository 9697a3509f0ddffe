package policytest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/jit-access/jit/pkg/api"
)

// WriteLines writes one line per case — "ok" or "FAIL", where the case is,
// its name and what decided — then a summary line. CI logs stay readable
// and grep-able.
func WriteLines(w io.Writer, results []Result) error {
	failed := 0
	for _, r := range results {
		verdict := "ok  "
		if !r.Passed() {
			verdict = "FAIL"
			failed++
		}
		line := fmt.Sprintf("%s %s %s: %s", verdict, r.Case.At, r.Case.Name, describe(r.Got))
		if !r.Passed() {
			line += "\n       " + strings.Join(r.Failures, "\n       ")
			line += "\n       why: " + r.Got.Why
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d passed, %d failed\n", len(results)-failed, failed)
	return err
}

// describe renders what the policy answered: the outcome, the rule that
// decided it and the numbers that matter.
func describe(g Got) string {
	var b strings.Builder
	b.WriteString(g.Outcome)
	if g.Outcome == OutcomeNeedsApproval {
		fmt.Fprintf(&b, " (%d)", g.Approvals)
	}
	if g.Duration > 0 {
		fmt.Fprintf(&b, " for %s", api.FormatDuration(g.Duration))
	}
	if g.Rule != "" {
		b.WriteString(" by " + g.Rule)
	}
	return b.String()
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes results as JUnit XML (one testsuite named after the
// tests file, one testcase per case, classname the role), the format CI
// systems show as test reports.
func WriteJUnit(w io.Writer, suite string, results []Result) error {
	s := junitSuite{Name: suite, Tests: len(results)}
	for _, r := range results {
		jc := junitCase{Name: r.Case.Name, Classname: "policy." + r.Case.Role, File: r.Case.At,
			SystemOut: describe(r.Got) + "\nwhy: " + r.Got.Why}
		if !r.Passed() {
			s.Failures++
			jc.Failure = &junitFailure{Message: strings.Join(r.Failures, "; "),
				Text: r.Case.At + ": " + strings.Join(r.Failures, "\n") + "\nwhy: " + r.Got.Why}
		}
		s.Cases = append(s.Cases, jc)
	}
	out := junitSuites{Tests: s.Tests, Failures: s.Failures, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Failed counts the cases that did not pass.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if !r.Passed() {
			n++
		}
	}
	return n
}
