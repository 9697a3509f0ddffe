package tui

import (
	"context"
	"errors"
	"fmt"
	"io"

	tea "github.com/charmbracelet/bubbletea"
)

// Run shows the picker on out (stderr: stdout stays for data) reading keys
// from in, and returns what the user chose once the screen is gone.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) (Result, error) {
	m := New(ctx, opts)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	if _, err := p.Run(); err != nil {
		if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
			return m.Result(), ctx.Err()
		}
		return m.Result(), fmt.Errorf("picker: %w", err)
	}
	return m.Result(), nil
}
