package tui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/list"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"
)

// styles are built on one renderer, so NO_COLOR (the ASCII profile) holds
// for every piece of the screen, the bubbles included.
type styles struct {
	r        *lipgloss.Renderer
	tab      lipgloss.Style
	tabOn    lipgloss.Style
	title    lipgloss.Style
	dim      lipgloss.Style
	ok       lipgloss.Style
	bad      lipgloss.Style
	warn     lipgloss.Style
	selected lipgloss.Style
	label    lipgloss.Style
	errBox   lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	return styles{
		r:        r,
		tab:      r.NewStyle().Padding(0, 1).Foreground(lipgloss.AdaptiveColor{Light: "243", Dark: "245"}),
		tabOn:    r.NewStyle().Padding(0, 1).Bold(true).Reverse(true),
		title:    r.NewStyle().Bold(true),
		dim:      r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "243", Dark: "245"}),
		ok:       r.NewStyle().Foreground(lipgloss.Color("2")).Bold(true),
		bad:      r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		warn:     r.NewStyle().Foreground(lipgloss.Color("3")),
		selected: r.NewStyle().Foreground(lipgloss.Color("5")).Bold(true),
		label:    r.NewStyle().Width(13),
		errBox:   r.NewStyle().Foreground(lipgloss.Color("1")),
	}
}

// listStyles rebinds the list's default styles to the renderer.
func (s styles) listStyles() list.Styles {
	d := list.DefaultStyles()
	for _, st := range []*lipgloss.Style{&d.TitleBar, &d.Title, &d.Spinner, &d.FilterPrompt, &d.FilterCursor,
		&d.DefaultFilterCharacterMatch, &d.StatusBar, &d.StatusEmpty, &d.StatusBarActiveFilter,
		&d.StatusBarFilterCount, &d.NoItems, &d.PaginationStyle, &d.HelpStyle, &d.ActivePaginationDot,
		&d.InactivePaginationDot, &d.ArabicPagination, &d.DividerDot} {
		*st = st.Renderer(s.r)
	}
	d.Title = d.Title.Background(lipgloss.NoColor{}).Foreground(lipgloss.NoColor{}).Bold(true).Padding(0)
	d.TitleBar = d.TitleBar.Padding(0, 0, 1, 1)
	return d
}

func (s styles) helpStyles(h *help.Model) {
	for _, st := range []*lipgloss.Style{&h.Styles.Ellipsis, &h.Styles.ShortKey, &h.Styles.ShortDesc,
		&h.Styles.ShortSeparator, &h.Styles.FullKey, &h.Styles.FullDesc, &h.Styles.FullSeparator} {
		*st = st.Renderer(s.r)
	}
}

func (s styles) input(ti *textinput.Model) {
	ti.PromptStyle = ti.PromptStyle.Renderer(s.r)
	ti.TextStyle = ti.TextStyle.Renderer(s.r)
	ti.PlaceholderStyle = s.dim
	ti.CompletionStyle = ti.CompletionStyle.Renderer(s.r)
	ti.Cursor.Style = ti.Cursor.Style.Renderer(s.r)
	ti.Cursor.TextStyle = ti.Cursor.TextStyle.Renderer(s.r)
}
