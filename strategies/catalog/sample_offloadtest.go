//go:build offloadtest

package catalog

import "github.com/offload/offload/strategies/catalog/internal/sample"

// A binary built with -tags offloadtest carries one more strategy, added
// exactly as a real one is: this entry and its package. The catalog test
// takes it through offload run, a quick bench and a report.
func init() {
	entries = append(entries, Entry{
		Name: sample.Name, Description: "test only: sends the mail, then answers 202",
		New: sample.New, NA: inWebProcess,
		Style: Style{Color: "#999999"},
	})
}
