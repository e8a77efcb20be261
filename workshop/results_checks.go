package workshop

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/offload/offload/results"
)

// benchRuns reads every results.json under dir, newest first, and returns
// the runs of the named scenarios; a strategy x scenario x variant x workers
// seen in a newer file hides the same one in older files. A file whose
// bench started before since is skipped (zero since: none is).
func benchRuns(dir string, since time.Time, scenarios ...string) ([]results.Run, []string, error) {
	type found struct {
		path string
		mod  int64
	}
	var files []found
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "results.json" {
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, found{p, info.ModTime().UnixNano()})
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("look for results under %s: %w", dir, err)
	}
	// Newest first; bench directories are named by time, so the path breaks
	// ties of a coarse file-system clock.
	sort.Slice(files, func(i, j int) bool {
		if files[i].mod != files[j].mod {
			return files[i].mod > files[j].mod
		}
		return files[i].path > files[j].path
	})
	seen := map[string]bool{}
	var runs []results.Run
	var paths []string
	for _, f := range files {
		rf, err := results.Read(f.path)
		if err != nil {
			return nil, nil, err
		}
		if !since.IsZero() && rf.Env.Start.Before(since) {
			continue
		}
		used := false
		for _, r := range rf.Runs {
			key := fmt.Sprint(r.Strategy, r.Scenario, r.Variant, r.Loop, r.Workers)
			if !slices.Contains(scenarios, r.Scenario) || seen[key] {
				continue
			}
			seen[key], used = true, true
			runs = append(runs, r)
		}
		if used {
			paths = append(paths, f.path)
		}
	}
	return runs, paths, nil
}

// killBench is the command exercise 4 asks for.
const killBench = "offload bench --strategies fireforget,localipc,queue --scenarios worker-crash,web-crash --quick"

// CheckKillThings is exercise 4: a bench run with crash scenarios, started
// after `offload exercise start 4`, in which queue lost nothing and
// fireforget or localipc lost something. A run marked invalid (its timing
// went wrong) still counts: its numbers are not comparable, but the mail
// sink's loss count is exact either way.
func CheckKillThings(ctx context.Context, o Options) (string, error) {
	o = o.withDefaults()
	start, err := Started(o, 4)
	if err != nil {
		return "", err
	}
	runs, paths, err := benchRuns(o.Out, start, "worker-crash", "web-crash")
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", hintf(killBench+" --out "+o.Out, "found no worker-crash or web-crash runs under %s/ made since you started the exercise (%s)", o.Out, start.Format(time.DateTime))
	}
	var table strings.Builder
	lost := map[string]int64{}
	measured := map[string]bool{}
	for _, r := range runs {
		if r.NAReason != "" {
			continue
		}
		measured[r.Strategy] = true
		lost[r.Strategy] += r.Lost
		note := ""
		if r.Invalid != "" {
			note = "  (timing invalid: " + r.Invalid + "; the loss count is still exact)"
		}
		fmt.Fprintf(&table, "  %-11s %-13s %-16s accepted %5d  delivered %5d  lost %4d  duplicates %3d%s\n",
			r.Strategy, r.Scenario, r.Variant, r.Accepted, r.Delivered, r.Lost, r.Duplicates, note)
	}
	if !measured["queue"] {
		return "", hintf(killBench, "no measured queue run among the crash scenarios (%s): queue is the one that should lose nothing", strings.Join(paths, ", "))
	}
	if !measured["fireforget"] && !measured["localipc"] {
		return "", hintf(killBench, "no measured fireforget or localipc run among the crash scenarios: you need one that loses jobs to compare with")
	}
	if lost["queue"] > 0 {
		return "", hintf("read docs/strategies/queue.md (reclaim) and the runs' notes in REPORT.md, then run the bench again",
			"queue lost %d jobs in a crash scenario; it should lose none:\n%s", lost["queue"], table.String())
	}
	if lost["fireforget"]+lost["localipc"] == 0 {
		return "", hintf("run the crash scenarios again without --quick (longer runs have more jobs in flight when the kill comes)",
			"neither fireforget nor localipc lost a job in these runs, so there is nothing to compare yet:\n%s", table.String())
	}
	return fmt.Sprintf("from %s:\n%s"+
		"fireforget and localipc keep jobs in a process's memory: killing it loses them. queue keeps them in Redis until a worker acknowledges them.",
		strings.Join(paths, ", "), table.String()), nil
}

// scaleBench is the command exercise 7 asks for. It cannot be --quick: the
// quick preset runs scale at one worker count only.
const scaleBench = "offload bench --strategies queue --scenarios capacity,scale"

// CheckScale is exercise 7: for one strategy, a capacity ladder and scale
// runs at two or more worker counts, the scale load sized from the
// ladder's measured delivery capacity of one worker.
func CheckScale(ctx context.Context, o Options) (string, error) {
	o = o.withDefaults()
	runs, paths, err := benchRuns(o.Out, time.Time{}, "scale", "capacity")
	if err != nil {
		return "", err
	}
	byStrategy := map[string][]results.Run{}
	capacity := map[string]*results.Capacity{}
	quickOnly := false
	// A scale run marked invalid still counts, with a note: its timing
	// (the generator fell behind, common on a busy laptop) inflates the
	// latencies, not the count of deliveries per second.
	for _, r := range runs {
		if r.NAReason != "" || r.Interrupted {
			continue
		}
		key := seriesKey(r)
		switch r.Scenario {
		case "scale":
			byStrategy[key] = append(byStrategy[key], r)
		case "capacity":
			if r.Capacity != nil && (r.Loop == "" || r.Loop == "node") {
				capacity[key] = r.Capacity
			}
		}
	}
	names := make([]string, 0, len(byStrategy))
	for n, rs := range byStrategy {
		if len(rs) >= 2 {
			names = append(names, n)
		} else {
			quickOnly = true
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		why := ""
		if quickOnly {
			why = " (a --quick bench runs scale at one worker count only: run it without --quick)"
		}
		return "", hintf(scaleBench+" --out "+o.Out, "found no scale runs of one strategy at two or more worker counts in any results.json under %s/%s", o.Out, why)
	}
	var b strings.Builder
	for _, n := range names {
		c := capacity[n]
		if c == nil {
			continue
		}
		rs := byStrategy[n]
		sort.Slice(rs, func(i, j int) bool { return rs[i].Workers < rs[j].Workers })
		delivery := "not measured"
		if c.MaxDeliveryRPS != nil {
			delivery = fmt.Sprintf("%.0f/s", *c.MaxDeliveryRPS)
		}
		fmt.Fprintf(&b, "  %s: capacity ladder: accepts up to %.0f/s, delivers up to %s with its default workers, limited by %s\n",
			n, c.MaxAcceptRPS, delivery, orDash(c.LimitedBy))
		for _, r := range rs {
			note := ""
			if r.Invalid != "" {
				note = "  (timing invalid: the latency is inflated, the throughput stands)"
			}
			fmt.Fprintf(&b, "  %-22s workers %d  offered %6.1f/s  delivered %6.1f/s  e2e p99 %8.1f ms  lost %d%s\n",
				n, r.Workers, r.ThroughputRPS.Offered, r.ThroughputRPS.Delivered, r.E2ELatencyMS.P99, r.Lost, note)
		}
	}
	if b.Len() == 0 {
		return "", hintf(scaleBench+" --out "+o.Out, "%s has scale runs but no capacity run beside them: the capacity ladder is what says how much one worker delivers, and what the scale load is sized from", strings.Join(names, ", "))
	}
	return fmt.Sprintf("from %s:\n%s"+
		"Read delivered/s against offered/s and the e2e p99 at each worker count: where workers stop adding throughput, the ladder's limited_by says what ran out first.",
		strings.Join(paths, ", "), b.String()), nil
}

// seriesKey names a strategy and its variant, leaving out the worker
// count that scale runs also record as a variant ("workers=4").
func seriesKey(r results.Run) string {
	var keep []string
	for _, v := range strings.Split(r.Variant, ",") {
		if v != "" && !strings.HasPrefix(v, "workers=") {
			keep = append(keep, v)
		}
	}
	return strings.TrimSpace(r.Strategy + " " + strings.Join(keep, ","))
}

func orDash(s string) string {
	if s == "" {
		return "nothing within the ladder"
	}
	return s
}
