package harness

import (
	"slices"
	"testing"

	"github.com/offload/offload/strategies/catalog"
)

// A variant's scenario lists name real scenarios, and --quick plans a
// variant for exactly its Quick scenarios: the cluster failover is in
// every quick bench, the durability variants only in the full one.
func TestVariantScenariosPlan(t *testing.T) {
	for _, e := range catalog.All() {
		for _, v := range e.Variants {
			for _, s := range append(slices.Clone(v.Scenarios), v.Quick...) {
				if !slices.Contains(ScenarioOrder, s) {
					t.Errorf("%s %s names scenario %q, which does not exist", e.Name, v.Name, s)
				}
			}
		}
	}
	b := &Bench{Timing: Quick()}
	plans, err := b.Plans([]string{"queue"}, ScenarioOrder, true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, p := range plans {
		if p.Variant.Name != "" {
			got[p.Variant.Name] = append(got[p.Variant.Name], p.Scenario.Name)
		}
	}
	if want := []string{BrokerFailover, Partition}; !slices.Equal(got["cluster"], want) {
		t.Errorf("--quick plans queue (cluster) for %v, want %v", got["cluster"], want)
	}
	if len(got) != 1 {
		t.Errorf("--quick plans variants %v, want only cluster", got)
	}
	full, err := b.Plans([]string{"queue"}, []string{CPU, BrokerFailover}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range full {
		if p.Variant.Name != "" && p.Scenario.Name == CPU && p.NA == "" {
			t.Errorf("queue (%s) runs cpu, which its variant does not answer", p.Variant.Name)
		}
	}
}
