package reports

// Table is a grid of text ready for any medium: Markdown, HTML, terminal.
// Cells marked Bad are what a reader must not miss (losses, a blocked
// loop); the terminal prints them red, HTML in a warning colour.
type Table struct {
	Header []string
	Rows   [][]Cell
}

// Cell is one table entry.
type Cell struct {
	Text string
	Bad  bool
}

func cells(texts ...string) []Cell {
	out := make([]Cell, len(texts))
	for i, t := range texts {
		out[i] = Cell{Text: t}
	}
	return out
}
