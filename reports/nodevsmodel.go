package reports

import (
	"fmt"
	"github.com/offload/offload/results"
)

// NodeVsModelTable is the comparison of offload's node loop model with the
// talk's programs on real Node: one row per strategy, each figure on both
// sides and model ÷ Node (latencies under 10 ms on both sides as a
// difference). A cell outside the agreement bounds is marked bad.
func NodeVsModelTable(n *results.NodeVsModel) Table {
	t := Table{Header: []string{"strategy",
		"accept ÷ baseline, Node", "model", "model ÷ Node",
		"delivered/s, Node", "model", "model ÷ Node",
		"cpu scenario HTTP p99 ms, Node", "model", "model vs Node",
		"web lag max ms, Node", "model", "model vs Node"}}
	for _, r := range n.Rows {
		row := []Cell{{Text: r.Strategy}}
		cmp := func(model, node float64, latency bool, nodeText, modelText string) {
			txt, ok := results.Agrees(model, node, latency)
			row = append(row, Cell{Text: nodeText}, Cell{Text: modelText}, Cell{Text: txt, Bad: txt != "–" && !ok})
		}
		if r.Strategy == "baseline" {
			// The share is 1 by definition: show what each accepted.
			cmp(r.Model.AcceptRPS, r.Node.AcceptRPS, false, num(r.Node.AcceptRPS)+" req/s", num(r.Model.AcceptRPS)+" req/s")
			row = append(row, Cell{Text: "–"}, Cell{Text: "–"}, Cell{Text: "–"})
		} else {
			cmp(r.Model.AcceptShare, r.Node.AcceptShare, false, share(r.Node.AcceptShare), share(r.Model.AcceptShare))
			cmp(r.Model.DeliveryRPS, r.Node.DeliveryRPS, false, num(r.Node.DeliveryRPS), num(r.Model.DeliveryRPS))
		}
		cmp(r.Model.CPUHTTPP99MS, r.Node.CPUHTTPP99MS, true, num(r.Node.CPUHTTPP99MS), num(r.Model.CPUHTTPP99MS))
		cmp(r.Model.CPULagMaxMS, r.Node.CPULagMaxMS, true, num(r.Node.CPULagMaxMS), num(r.Model.CPULagMaxMS))
		t.Rows = append(t.Rows, row)
	}
	return t
}

func share(v float64) string {
	if v <= 0 {
		return "–"
	}
	return num(v) + "×"
}

// PlacementTable is the CPU-split measurement: per split, the steady and
// cpu runs the validity rule refused, the worst send delay, the bench's
// longest GC pause, and each ladder's accept figure.
func PlacementTable(p *results.Placement) Table {
	series := p.Series()
	t := Table{Header: append([]string{"--cpus", "steady+cpu runs refused", "worst send-delay p99 ms", "bench's longest GC pause ms"},
		func() []string {
			var h []string
			for _, s := range series {
				h = append(h, s+" accept req/s")
			}
			return h
		}()...)}
	for _, s := range p.Splits {
		row := []Cell{{Text: s.Env.Placement}, {Text: fmt.Sprintf("%d of %d", s.Refused, s.Runs)},
			{Text: num(s.SendDelayP99MaxMS)}, {Text: num(s.GCPauseMaxMS)}}
		for _, name := range series {
			cell := "–"
			for _, a := range s.Accept {
				if a.Series == name {
					cell = num(a.AcceptRPS)
				}
			}
			row = append(row, Cell{Text: cell})
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
