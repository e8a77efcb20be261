package reports

import "strings"

// MarkdownTable renders t as a markdown table with its header, as REPORT.md
// shows it: for pages that embed a table computed from results.
func MarkdownTable(t Table) string {
	var b strings.Builder
	writeMarkdownTable(&b, t, true)
	return b.String()
}

// Number formats a measurement as every report does (1,204 / 97 / 2.1 / 0.42).
func Number(v float64) string { return num(v) }

// Percent formats part/whole as the reports do ("3.1%").
func Percent(part, whole int64) string { return percent(part, whole) }
