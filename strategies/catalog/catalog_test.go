package catalog

import (
	"regexp"
	"testing"
)

// Every entry is complete enough for every command and the reports.
func TestEntriesAreComplete(t *testing.T) {
	color := regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
	seen := map[string]bool{}
	for i, e := range All() {
		if e.Name == "" || seen[e.Name] {
			t.Errorf("entry %d: name %q empty or repeated", i, e.Name)
		}
		seen[e.Name] = true
		if e.New == nil || e.Description == "" {
			t.Errorf("%s: New and Description are required", e.Name)
		}
		if !color.MatchString(e.Style.Color) {
			t.Errorf("%s: colour %q, want #rrggbb", e.Name, e.Style.Color)
		}
		if Order(e.Name) != i {
			t.Errorf("%s: Order %d, want %d", e.Name, Order(e.Name), i)
		}
		if e.Layout() == WebOnly && (len(e.Extra) > 0 || len(e.BenchWorkerArgs) > 0) {
			t.Errorf("%s: worker arguments without workers", e.Name)
		}
		for _, v := range e.Variants {
			if v.Name == "" {
				t.Errorf("%s: a variant without a name", e.Name)
			}
			if s := e.SeriesStyle(v); s.Color != e.Style.Color || len(s.Dash) == 0 {
				t.Errorf("%s %s: style %+v, want the strategy's colour, dashed", e.Name, v.Name, s)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("carrier-pigeon"); err == nil {
		t.Fatal("an unknown name was found")
	}
	for _, n := range Names() {
		if e, err := Lookup(n); err != nil || e.Name != n {
			t.Errorf("Lookup(%q) = %q, %v", n, e.Name, err)
		}
	}
}
