// The participant's one catalog entry, for the workshop's tests of
// exercise 8: added to strategies/catalog through go build -overlay.
package catalog

import "github.com/offload/offload/workshop/ex08"

func init() {
	entries = append(entries, Entry{
		Name: "seventh", Description: "exercise 8's strategy",
		New: ex08.New, NA: inWebProcess,
		Style: Style{Color: "#000000"},
	})
}
