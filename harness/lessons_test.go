package harness_test

import (
	"testing"

	"github.com/offload/offload/results"
)

// lessonRuns indexes the default configuration's runs (node loop, no
// variant; scale by its worker count) by strategy and scenario.
func lessonRuns(f *results.File) map[[2]string]results.Run {
	m := map[[2]string]results.Run{}
	for _, r := range f.Runs {
		if r.Loop != "node" || (r.Variant != "" && r.Scenario != "scale") {
			continue
		}
		if r.Scenario == "scale" && r.Workers != 2 {
			continue
		}
		m[[2]string{r.Strategy, r.Scenario}] = r
	}
	return m
}

// lesson runs check on the run of strategy x scenario, or logs why it
// cannot be judged (strategy not built yet).
func lesson(t *testing.T, runs map[[2]string]results.Run, strategy, scenario, what string, check func(t *testing.T, r results.Run)) {
	t.Helper()
	t.Run(strategy+"/"+scenario+": "+what, func(t *testing.T) {
		r, ok := runs[[2]string{strategy, scenario}]
		switch {
		case !ok:
			t.Fatalf("no run")
		case r.NAReason != "":
			t.Skipf("n/a: %s", r.NAReason)
		case r.Invalid != "":
			t.Logf("the run is marked invalid (%s); judging its numbers anyway", r.Invalid)
		}
		check(t, r)
	})
}

// The cpu scenario's job cost in --quick, in ms.
const quickCPUCostMS = 300

func checkLessons(t *testing.T, runs map[[2]string]results.Run) {
	lesson(t, runs, "foreground", "steady", "end-to-end latency is the HTTP latency", func(t *testing.T, r results.Run) {
		d := r.E2ELatencyMS.P50 - r.HTTPLatencyMS.P50
		if d > 1 || d < -max(5, r.HTTPLatencyMS.P50/5) {
			t.Errorf("e2e p50 %.1fms vs http p50 %.1fms: foreground answers after delivering", r.E2ELatencyMS.P50, r.HTTPLatencyMS.P50)
		}
	})
	for _, s := range []string{"foreground", "fireforget"} {
		lesson(t, runs, s, "cpu", "the cpu job blocks the loop and every other client", func(t *testing.T, r results.Run) {
			if r.LagMS.Max < 0.8*quickCPUCostMS {
				t.Errorf("loop lag max %.1fms, want at least 80%% of the %dms cpu job", r.LagMS.Max, quickCPUCostMS)
			}
			if r.ProbeLatencyMS.P99 < 0.5*quickCPUCostMS {
				t.Errorf("probe p99 %.1fms, want at least half the %dms cpu job", r.ProbeLatencyMS.P99, quickCPUCostMS)
			}
		})
	}
	for _, s := range []string{"localipc", "pubsub", "queue", "eventbus"} {
		lesson(t, runs, s, "cpu", "the web loop stays free (lag max < 10ms)", func(t *testing.T, r results.Run) {
			if r.LagMS.Max < 10 {
				return
			}
			if r.Invalid != "" && r.LagMS.Max < 0.8*quickCPUCostMS {
				t.Skipf("lag max %.1fms, but the machine was too busy to judge: %s", r.LagMS.Max, r.Invalid)
			}
			// The lag monitor sees the operating system's scheduling too:
			// on a machine busy with other work even an idle loop is late.
			// Judge only when this strategy's steady run was quiet.
			if st, ok := runs[[2]string{s, "steady"}]; ok && st.LagMS.Max >= 10 {
				t.Skipf("lag max %.1fms, but the machine was too busy to judge: steady lag max was already %.1fms", r.LagMS.Max, st.LagMS.Max)
			}
			if r.LagMS.Max >= 0.8*quickCPUCostMS {
				t.Errorf("lag max %.1fms: the cpu job ran on the web loop", r.LagMS.Max)
			} else {
				t.Errorf("lag max %.1fms, want under 10ms (the cpu job runs in another process)", r.LagMS.Max)
			}
		})
	}
	lesson(t, runs, "fireforget", "steady", "answers before the job is done", func(t *testing.T, r results.Run) {
		if r.HTTPLatencyMS.P50 >= r.E2ELatencyMS.P50 {
			t.Errorf("http p50 %.1fms, e2e p50 %.1fms: fireforget answers first", r.HTTPLatencyMS.P50, r.E2ELatencyMS.P50)
		}
	})
	lossy := []struct{ strategy, scenario, why string }{
		{"fireforget", "web-crash", "in-flight jobs die with the web process"},
		{"localipc", "worker-crash", "the worker's in-memory jobs die with it"},
		{"pubsub", "worker-crash", "jobs published while no subscriber listens are lost"},
	}
	for _, l := range lossy {
		lesson(t, runs, l.strategy, l.scenario, l.why, func(t *testing.T, r results.Run) {
			if r.Lost == 0 {
				t.Errorf("lost 0 of %d accepted: want > 0 (%s)", r.Accepted, l.why)
			}
		})
	}
	lesson(t, runs, "pubsub", "scale", "redis pub/sub fans out: two subscribers, every job twice", func(t *testing.T, r results.Run) {
		if r.Duplicates < r.Delivered*9/10 {
			t.Errorf("%d duplicates of %d delivered: want about one per job", r.Duplicates, r.Delivered)
		}
	})
	for _, s := range []string{"queue", "eventbus"} {
		for _, sc := range []string{"worker-crash", "web-crash", "broker-restart", "partition", "mail-outage"} {
			lesson(t, runs, s, sc, "loses no accepted job", func(t *testing.T, r results.Run) {
				if r.Lost != 0 {
					t.Errorf("lost %d of %d accepted", r.Lost, r.Accepted)
				}
				if r.Accepted == 0 {
					t.Errorf("nothing accepted")
				}
			})
		}
	}
	lesson(t, runs, "foreground", "cpu", "hey's closed loop hides the stall", func(t *testing.T, r results.Run) {
		if r.Hey == nil {
			t.Fatal("no hey column")
		}
		if r.Hey.LatencyMS.P99 > r.HTTPLatencyMS.P99/2 {
			t.Errorf("hey p99 %.1fms vs open-loop p99 %.1fms: want hey's far below", r.Hey.LatencyMS.P99, r.HTTPLatencyMS.P99)
		}
	})
}
