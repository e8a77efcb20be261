package results

import (
	"encoding/csv"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// csvHeader is results.csv's columns: one row per run, the numbers a
// spreadsheet user wants first. results.json stays the complete record.
var csvHeader = []string{
	"strategy", "scenario", "loop", "variant", "workers", "repeat", "na_reason", "valid", "invalid_reason",
	"offered_rps", "duration_s", "sent", "accepted", "rejected", "transport_errors",
	"delivered", "lost", "duplicates", "unexpected", "status",
	"http_p50_ms", "http_p90_ms", "http_p99_ms", "http_p999_ms", "http_max_ms",
	"e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms", "e2e_p999_ms", "e2e_max_ms",
	"probe_p99_ms", "probe_max_ms", "hey_p99_ms", "hey_rps",
	"accepted_rps", "delivered_rps", "lag_p99_ms", "lag_max_ms", "sched_p99_ms",
	"recovery_s", "cpu_s", "cpu_per_1k_delivered_s", "peak_rss_mb", "send_delay_p99_ms",
	"timeouts", "generator_cpu_share",
}

// WriteCSV saves f's runs as results.csv.
func WriteCSV(path string, f *File) error {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := csv.NewWriter(out)
	if err := w.Write(csvHeader); err != nil {
		out.Close()
		return fmt.Errorf("write csv: %w", err)
	}
	for _, r := range f.Runs {
		if err := w.Write(csvRow(r)); err != nil {
			out.Close()
			return fmt.Errorf("write csv: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		out.Close()
		return fmt.Errorf("write csv: %w", err)
	}
	return out.Close()
}

func csvRow(r Run) []string {
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	fi := func(v int64) string { return strconv.FormatInt(v, 10) }
	heyP99, heyRPS := "", ""
	if r.Hey != nil {
		heyP99, heyRPS = ff(r.Hey.LatencyMS.P99), ff(r.Hey.RPS)
	}
	rec := ""
	if r.RecoveryS != nil {
		rec = ff(*r.RecoveryS)
	}
	return []string{
		r.Strategy, r.Scenario, r.Loop, r.Variant, strconv.Itoa(r.Workers), strconv.Itoa(r.Repeat), r.NAReason,
		strconv.FormatBool(r.NAReason == "" && r.Invalid == ""), r.Invalid,
		ff(r.OfferedRPS), ff(r.DurationS), fi(r.Sent), fi(r.Accepted), fi(r.Rejected), fi(r.TransportErrors),
		fi(r.Delivered), fi(r.Lost), fi(r.Duplicates), fi(r.Unexpected), statusString(r.Status),
		ff(r.HTTPLatencyMS.P50), ff(r.HTTPLatencyMS.P90), ff(r.HTTPLatencyMS.P99), ff(r.HTTPLatencyMS.P999), ff(r.HTTPLatencyMS.Max),
		ff(r.E2ELatencyMS.P50), ff(r.E2ELatencyMS.P90), ff(r.E2ELatencyMS.P99), ff(r.E2ELatencyMS.P999), ff(r.E2ELatencyMS.Max),
		ff(r.ProbeLatencyMS.P99), ff(r.ProbeLatencyMS.Max), heyP99, heyRPS,
		ff(r.ThroughputRPS.Accepted), ff(r.ThroughputRPS.Delivered), ff(r.LagMS.P99), ff(r.LagMS.Max), ff(r.SchedLatencyMS.P99),
		rec, ff(r.CPUS), ff(r.CPUPer1kS), ff(r.PeakRSSMB), ff(r.SendDelayMS.P99),
		fi(r.Timeouts), ff(r.GeneratorCPUShare),
	}
}

// statusString renders status counts as "200:95 503:5", sorted by code.
func statusString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}
