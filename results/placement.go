package results

import "slices"

// Placement is the measurement the bench's default CPU split was chosen
// by, once, on the machine the docs were measured on: the same quick bench
// under each split, each summarized. It is re-measured by hand (make
// placement), never on every run, so that runs stay comparable.
type Placement struct {
	Command string           `json:"command"` // what produced it
	Splits  []PlacementSplit `json:"splits"`
}

// PlacementSplit is one split's bench, summarized.
type PlacementSplit struct {
	Env Env `json:"env"` // its results.json's: commit, date, machine, env.placement
	// Runs are its steady and cpu runs; Refused those whose timing the
	// validity rule refused.
	Runs    int `json:"runs"`
	Refused int `json:"refused"`
	// SendDelayP99MaxMS is the worst send-delay p99 among those runs;
	// GCPauseMaxMS the bench's longest GC pause over every run.
	SendDelayP99MaxMS float64 `json:"send_delay_p99_max_ms"`
	GCPauseMaxMS      float64 `json:"gc_pause_max_ms"`
	// Accept is each strategy's capacity accept figure (req/s), in plan
	// order.
	Accept []PlacementAccept `json:"accept"`
	WallS  float64           `json:"wall_s"` // the runs' wall time, summed
}

// PlacementAccept is one ladder's accept figure under a split.
type PlacementAccept struct {
	Series    string  `json:"series"` // strategy, and its variant if any
	AcceptRPS float64 `json:"accept_rps"`
	LimitedBy string  `json:"limited_by"`
}

// SummarizePlacement reads one split's bench.
func SummarizePlacement(f *File) PlacementSplit {
	s := PlacementSplit{Env: f.Env}
	for _, r := range f.Runs {
		s.WallS += r.WallS
		s.GCPauseMaxMS = max(s.GCPauseMaxMS, r.GCPauseMaxMS)
		if r.NAReason != "" {
			continue
		}
		switch r.Scenario {
		case "steady", "cpu":
			s.Runs++
			if r.Invalid != "" {
				s.Refused++
			}
			s.SendDelayP99MaxMS = max(s.SendDelayP99MaxMS, r.SendDelayMS.P99)
		case "capacity":
			if r.Capacity != nil {
				series := r.Strategy
				if r.Variant != "" {
					series += " (" + r.Variant + ")"
				}
				s.Accept = append(s.Accept, PlacementAccept{Series: series, AcceptRPS: r.Capacity.MaxAcceptRPS, LimitedBy: r.Capacity.AcceptLimitedBy})
			}
		}
	}
	s.WallS = float64(int(s.WallS + 0.5))
	return s
}

// Series lists every ladder any split ran, in the order first met.
func (p *Placement) Series() []string {
	var out []string
	for _, s := range p.Splits {
		for _, a := range s.Accept {
			if !slices.Contains(out, a.Series) {
				out = append(out, a.Series)
			}
		}
	}
	return out
}

// PlacementFile is where the measurement is kept, relative to the root.
const PlacementFile = "docs/data/placement.json"

// ReadPlacement reads a placement measurement.
func ReadPlacement(path string) (*Placement, error) {
	var p Placement
	if err := readJSON(path, "placement measurement", &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// WritePlacement writes p as indented JSON.
func WritePlacement(path string, p *Placement) error {
	return writeJSON(path, "placement measurement", p)
}
