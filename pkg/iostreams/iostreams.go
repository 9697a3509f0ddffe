// Package iostreams holds the CLI's standard streams and what it knows about
// them: whether they are terminals, whether a prompt can be answered, and
// whether colour is welcome. Stdout is for data, stderr for people.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the process's streams plus terminal facts.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	noColor               bool
	neverPrompt           bool
}

// System returns the real streams.
func System() *IOStreams {
	fdTTY := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		inTTY: fdTTY(os.Stdin), outTTY: fdTTY(os.Stdout), errTTY: fdTTY(os.Stderr),
		noColor: noColor || os.Getenv("TERM") == "dumb",
	}
}

// Test returns streams backed by buffers: in, out, errOut.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, noColor: true}, in, out, errOut
}

// SetTTY marks all three streams as terminals or not (tests).
func (s *IOStreams) SetTTY(tty bool) { s.inTTY, s.outTTY, s.errTTY = tty, tty, tty }

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// CanPrompt reports whether a person can answer a question: stdin and
// stderr are both terminals.
func (s *IOStreams) CanPrompt() bool { return s.inTTY && s.errTTY && !s.neverPrompt }

// NeverPrompt forbids prompts whatever the streams are: credential-process
// runs under the AWS SDKs, where nobody can answer.
func (s *IOStreams) NeverPrompt() { s.neverPrompt = true }

// ColorEnabled reports whether stderr may carry colour.
func (s *IOStreams) ColorEnabled() bool { return s.errTTY && !s.noColor }
