package catalog

import (
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
			if v.Broker == BrokerCluster && (e.FailoverKey == "" || len(e.ClusterArgs) == 0) {
				t.Errorf("%s %s: a cluster variant needs ClusterArgs and a FailoverKey (the key whose master broker-failover kills)", e.Name, v.Name)
			}
			if len(v.Scenarios) > 0 && v.Why == "" {
				t.Errorf("%s %s: runs only some scenarios without saying why", e.Name, v.Name)
			}
			for _, q := range v.Quick {
				if len(v.Scenarios) > 0 && !slices.Contains(v.Scenarios, q) {
					t.Errorf("%s %s: --quick runs %s, which the full bench does not", e.Name, v.Name, q)
				}
			}
		}
	}
}

// A variant that runs only some scenarios says, for each other one, which
// it runs and why; its own NA still wins.
func TestVariantScenarios(t *testing.T) {
	e := Entry{Name: "x", NA: map[string]string{"scale": "no workers"}}
	v := Variant{Name: "v", Broker: BrokerReplica, Scenarios: []string{"steady", "broker-failover"}, Why: "it prices one thing",
		NA: map[string]string{"steady": "not today"}}
	for _, c := range []struct{ scenario, want string }{
		{"broker-failover", ""},
		{"steady", "not today"},
		{"cpu", "variant v runs only steady, broker-failover: it prices one thing"},
		{"scale", "variant v runs only steady, broker-failover: it prices one thing"},
	} {
		if got := e.NAReason(c.scenario, v); got != c.want {
			t.Errorf("NAReason(%s) = %q, want %q", c.scenario, got, c.want)
		}
	}
	if got := e.NAReason("scale", Variant{}); got != "no workers" {
		t.Errorf("default variant: NAReason(scale) = %q, want the entry's", got)
	}
}

// The partition fault cuts processes off from Redis: it runs exactly
// where a strategy talks to Redis, and says why not everywhere else.
func TestPartitionNeedsRedis(t *testing.T) {
	for _, e := range All() {
		for _, v := range append([]Variant{{}}, e.Variants...) {
			if len(v.Scenarios) > 0 && !slices.Contains(v.Scenarios, "partition") {
				continue // the variant's own choice, tested above
			}
			na := e.NAReason("partition", v)
			if uses := e.WantsRedis(v.Transport) || v.Broker != ""; uses != (na == "") {
				t.Errorf("%s %s: uses Redis %v, partition n/a reason %q", e.Name, v.Name, uses, na)
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

// No file but the catalog and the strategy's own package names a strategy
// in a string literal: the rest of the program learns strategies from the
// catalog. Tests, test fixtures (testdata) and the workshop's exercise
// checks, which judge named strategies by design, are exempt.
func TestOnlyTheCatalogNamesStrategies(t *testing.T) {
	root := filepath.Join("..", "..")
	names := map[string]bool{}
	for _, n := range Names() {
		names[strconv.Quote(n)] = true
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && path != root {
			switch {
			case d.Name() == "testdata", strings.HasPrefix(d.Name(), "."), rel == "workshop", rel == "out", rel == "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.HasPrefix(rel, filepath.Join("strategies", "catalog")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var s scanner.Scanner
		fset := token.NewFileSet()
		s.Init(fset.AddFile(rel, -1, len(src)), src, nil, 0)
		for {
			pos, tok, lit := s.Scan()
			if tok == token.EOF {
				return nil
			}
			own := filepath.Join("strategies", strings.Trim(lit, `"`)) + string(filepath.Separator)
			if tok == token.STRING && names[lit] && !strings.HasPrefix(rel, own) {
				t.Errorf("%s: the strategy name %s: take it from the catalog", fset.Position(pos), lit)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
