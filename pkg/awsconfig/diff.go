package awsconfig

import (
	"fmt"
	"strings"
)

// diffContext is how many unchanged lines surround each change.
const diffContext = 3

// maxDiffCells bounds the LCS table; past it Diff shows the changed middle
// as one removal and one addition rather than spend quadratic memory.
const maxDiffCells = 4 << 20

type diffOp struct {
	kind byte // ' ', '-' or '+'
	text string
	a, b int // 0-based line numbers in old and new
}

// Diff is a small unified diff of old and new for `jit configure aws
// --dry-run`; empty when they are equal. Carriage returns are not shown.
func Diff(old, new []byte) string {
	if string(old) == string(new) {
		return ""
	}
	a, b := diffLines(old), diffLines(new)
	ops := lineDiff(a, b)

	var out strings.Builder
	out.WriteString("--- current\n+++ planned\n")
	for i := 0; i < len(ops); {
		// Find the next change.
		for i < len(ops) && ops[i].kind == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start := max(0, i-diffContext)
		// Extend the hunk while changes are close together.
		end := i
		for j := i; j < len(ops); j++ {
			if ops[j].kind != ' ' {
				end = j
			} else if j-end > 2*diffContext {
				break
			}
		}
		stop := min(len(ops), end+diffContext+1)
		writeHunk(&out, ops[start:stop])
		i = stop
	}
	return out.String()
}

func writeHunk(out *strings.Builder, ops []diffOp) {
	var aStart, bStart, aLen, bLen int
	aStart, bStart = -1, -1
	for _, op := range ops {
		if op.kind != '+' {
			if aStart < 0 {
				aStart = op.a
			}
			aLen++
		}
		if op.kind != '-' {
			if bStart < 0 {
				bStart = op.b
			}
			bLen++
		}
	}
	// An empty side is numbered after the line before it, as diff -u does.
	if aStart < 0 {
		aStart = ops[0].a - 1
	}
	if bStart < 0 {
		bStart = ops[0].b - 1
	}
	fmt.Fprintf(out, "@@ -%d,%d +%d,%d @@\n", aStart+1, aLen, bStart+1, bLen)
	for _, op := range ops {
		out.WriteByte(op.kind)
		out.WriteString(op.text)
		out.WriteByte('\n')
	}
}

func diffLines(b []byte) []string {
	ls := splitLines(b)
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.text
	}
	return out
}

// lineDiff is a longest-common-subsequence diff after trimming the common
// prefix and suffix (which, for jit's edits, leaves only the block).
func lineDiff(a, b []string) []diffOp {
	var ops []diffOp
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		ops = append(ops, diffOp{' ', a[pre], pre, pre})
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]

	if (len(ma)+1)*(len(mb)+1) > maxDiffCells {
		for i, s := range ma {
			ops = append(ops, diffOp{'-', s, pre + i, pre})
		}
		for j, s := range mb {
			ops = append(ops, diffOp{'+', s, pre + len(ma), pre + j})
		}
	} else {
		// lcs[i][j] is the LCS length of ma[i:] and mb[j:].
		w := len(mb) + 1
		lcs := make([]int, (len(ma)+1)*w)
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				ops = append(ops, diffOp{' ', ma[i], pre + i, pre + j})
				i++
				j++
			case i < len(ma) && (j == len(mb) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				ops = append(ops, diffOp{'-', ma[i], pre + i, pre + j})
				i++
			default:
				ops = append(ops, diffOp{'+', mb[j], pre + i, pre + j})
				j++
			}
		}
	}
	for k := 0; k < suf; k++ {
		ai, bi := len(a)-suf+k, len(b)-suf+k
		ops = append(ops, diffOp{' ', a[ai], ai, bi})
	}
	return ops
}
