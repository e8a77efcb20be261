package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/offload/offload/results"
)

const (
	red   = "\x1b[31;1m"
	reset = "\x1b[0m"
)

// WriteTable prints the summary table for a terminal: aligned columns,
// and with color the cells that fail a threshold (losses first) in red.
func WriteTable(w io.Writer, f *results.File, color bool) {
	writeAligned(w, SummaryTable(Collapse(f)), color)
	if t := CapacityTable(f); len(t.Rows) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "capacity: the highest offered rate whose answers kept up (accept) and whose deliveries did")
		writeAligned(w, t, color)
	}
}

func writeAligned(w io.Writer, t Table, color bool) {
	widths := make([]int, len(t.Header))
	for i, h := range t.Header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, row := range t.Rows {
		for i, c := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(c.Text))
		}
	}
	line := func(texts []string, bad []bool) {
		var b strings.Builder
		for i, s := range texts {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if color && bad != nil && bad[i] {
				s = red + s + reset
			}
			if i == 0 {
				s += pad // names left, numbers right
			} else {
				s = pad + s
			}
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(s)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(t.Header, nil)
	for _, row := range t.Rows {
		texts := make([]string, len(row))
		bad := make([]bool, len(row))
		for i, c := range row {
			texts[i], bad[i] = c.Text, c.Bad
		}
		line(texts, bad)
	}
}
