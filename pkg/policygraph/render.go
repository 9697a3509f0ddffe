package policygraph

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// nodeID names a node of flow f: who, path i, end.
func nodeID(f Flow, part string) string {
	return strings.NewReplacer("-", "_", ".", "_").Replace(f.Role) + "_" + part
}

// DOT writes the flows as one Graphviz digraph, a cluster per role.
func DOT(w io.Writer, flows []Flow) error {
	var b strings.Builder
	b.WriteString("digraph jit_policy {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n")
	for _, f := range flows {
		fmt.Fprintf(&b, "  subgraph cluster_%s {\n    label=%q;\n", nodeID(f, "role"), "role "+f.Role)
		fmt.Fprintf(&b, "    %s [label=%q];\n", nodeID(f, "who"), strings.Join(append([]string{"request"}, f.Who...), "\n"))
		for i, p := range f.Paths {
			id := nodeID(f, fmt.Sprintf("path%d", i))
			fmt.Fprintf(&b, "    %s [label=%q];\n", id, strings.Join(append([]string{p.Title}, p.Lines...), "\n"))
			fmt.Fprintf(&b, "    %s -> %s;\n    %s -> %s;\n", nodeID(f, "who"), id, id, nodeID(f, "end"))
		}
		fmt.Fprintf(&b, "    %s [label=%q];\n  }\n", nodeID(f, "end"), strings.Join(f.End, "\n"))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Mermaid writes the flows as a Mermaid flowchart, a subgraph per role.
func Mermaid(w io.Writer, flows []Flow) error {
	var b strings.Builder
	b.WriteString("flowchart TB\n")
	label := func(lines []string) string {
		return `"` + strings.ReplaceAll(html.EscapeString(strings.Join(lines, "<br/>")), "&lt;br/&gt;", "<br/>") + `"`
	}
	for _, f := range flows {
		fmt.Fprintf(&b, "  subgraph %s[%s]\n", nodeID(f, "role"), label([]string{"role " + f.Role}))
		fmt.Fprintf(&b, "    %s(%s)\n", nodeID(f, "who"), label(append([]string{"request"}, f.Who...)))
		for i, p := range f.Paths {
			id := nodeID(f, fmt.Sprintf("path%d", i))
			fmt.Fprintf(&b, "    %s(%s)\n", id, label(append([]string{p.Title}, p.Lines...)))
			fmt.Fprintf(&b, "    %s --> %s --> %s\n", nodeID(f, "who"), id, nodeID(f, "end"))
		}
		fmt.Fprintf(&b, "    %s(%s)\n  end\n", nodeID(f, "end"), label(f.End))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Layout of the SVG: per role a band of three rows — the request, its
// paths side by side, the end — joined by lines.
const (
	charW    = 7  // px per character at 12px Helvetica, roughly
	lineH    = 16 // px per text line
	pad      = 10 // inside a box
	gapX     = 24 // between paths
	gapY     = 36 // between rows
	margin   = 20
	titleH   = 24
	minBoxW  = 160
	fontSize = 12
)

type box struct {
	x, y, w, h int
	title      string
	lines      []string
	kind       string
}

func measure(title string, lines []string) (w, h int) {
	n := len(title)
	for _, l := range lines {
		n = max(n, len(l))
	}
	return max(minBoxW, n*charW+2*pad), (len(lines)+1)*lineH + 2*pad
}

// SVG writes the flows as a standalone SVG picture.
func SVG(w io.Writer, flows []Flow) error {
	var body strings.Builder
	y, width := margin, 0
	for _, f := range flows {
		fmt.Fprintf(&body, `<text x="%d" y="%d" font-weight="bold" font-size="14">role %s</text>`+"\n", margin, y+14, html.EscapeString(f.Role))
		y += titleH
		who := newBox("request", f.Who, "who")
		paths := make([]box, len(f.Paths))
		rowW, rowH := 0, 0
		for i, p := range f.Paths {
			paths[i] = newBox(p.Title, p.Lines, p.Kind)
			rowW += paths[i].w
			rowH = max(rowH, paths[i].h)
		}
		rowW += gapX * max(len(paths)-1, 0)
		end := newBox("then", f.End, "end")
		bandW := max(rowW, who.w, end.w)
		who.x, who.y = margin+(bandW-who.w)/2, y
		x := margin + (bandW-rowW)/2
		py := y + who.h + gapY
		for i := range paths {
			paths[i].x, paths[i].y = x, py
			x += paths[i].w + gapX
		}
		end.x, end.y = margin+(bandW-end.w)/2, py+rowH+gapY
		for _, p := range paths {
			line(&body, who.x+who.w/2, who.y+who.h, p.x+p.w/2, p.y)
			line(&body, p.x+p.w/2, p.y+p.h, end.x+end.w/2, end.y)
		}
		for _, b := range append(append([]box{who}, paths...), end) {
			b.draw(&body)
		}
		y = end.y + end.h + gapY
		width = max(width, bandW+2*margin)
	}
	_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="%d">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>
<rect width="100%%" height="100%%" fill="white"/>
%s</svg>
`, width, y, width, y, fontSize, body.String())
	return err
}

func newBox(title string, lines []string, kind string) box {
	w, h := measure(title, lines)
	return box{w: w, h: h, title: title, lines: lines, kind: kind}
}

// fills per kind of box, so the paths read at a glance.
func fill(kind string) string {
	switch kind {
	case "auto_approve":
		return "#e6f4ea"
	case "break_glass":
		return "#fdecea"
	case "approvers":
		return "#e8f0fe"
	case "end":
		return "#f1f3f4"
	}
	return "#fff8e1"
}

func (b box) draw(w *strings.Builder) {
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="%s" stroke="#555"/>`+"\n", b.x, b.y, b.w, b.h, fill(b.kind))
	ty := b.y + pad + fontSize
	fmt.Fprintf(w, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", b.x+pad, ty, html.EscapeString(b.title))
	for _, l := range b.lines {
		ty += lineH
		fmt.Fprintf(w, `<text x="%d" y="%d">%s</text>`+"\n", b.x+pad, ty, html.EscapeString(l))
	}
}

func line(w *strings.Builder, x1, y1, x2, y2 int) {
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" marker-end="url(#arrow)"/>`+"\n", x1, y1, x2, y2)
}
