package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/results"
)

// With --generators N the load of a run is split over N generator
// processes (the hidden `offload generate`): each takes every N-th due
// time of the same schedule, from the same absolute start time, so
// together they send exactly what one would. Each leaves three files: its
// outcomes (one JSON object a line), its latency histograms as an
// HdrHistogram interval log, and a summary. The bench merges them from the
// files alone, so the processes could as well run on other machines
// (given synchronised clocks and the files copied back).

// GeneratorJob is one generator process's share of a run.
type GeneratorJob struct {
	Base     string        // the server
	Scenario string        // built from Timing
	Timing   Timing        // the bench's timing, for the scenario's load and mix
	Rate     float64       // a plan's own constant rate, when it differs from the scenario's (scale)
	Length   time.Duration // the schedule's length (a fault run's cap)
	Start    time.Time     // absolute: every generator's schedule starts here
	Index    int           // this generator, 0-based,
	Of       int           // of this many
	Prefix   string        // job id prefix, as the bench's own
	Seed     uint64        // Poisson arrivals, when Timing.Poisson
	Timeout  time.Duration // per request
	Out      string        // directory for the three files
}

// GeneratorSummary is what a generator says about itself.
type GeneratorSummary struct {
	Fired    int     `json:"fired"`
	Recorded int     `json:"recorded"`
	CPUS     float64 `json:"cpu_s"`
	Note     string  `json:"note,omitempty"` // the pacer's (Pace.Note)
}

func generatorFile(dir string, i int, kind string) string {
	return filepath.Join(dir, fmt.Sprintf("gen-%d.%s", i, kind))
}

// Every is every n-th due time of S, starting with the i-th: one
// generator's share of a schedule split n ways.
type Every struct {
	S    Schedule
	N, I int
	seen int
}

// Next implements Schedule.
func (e *Every) Next() (time.Duration, bool) {
	for {
		off, ok := e.S.Next()
		if !ok {
			return 0, false
		}
		e.seen++
		if (e.seen-1)%e.N == e.I {
			return off, true
		}
	}
}

// RunGenerator is one generator process: it keeps its share of the
// schedule until it is over or ctx ends (SIGTERM: the bench saw recovery),
// waits for the answers it is owed, and writes its files.
func RunGenerator(ctx context.Context, j GeneratorJob) error {
	if j.Of < 1 || j.Index < 0 || j.Index >= j.Of {
		return fmt.Errorf("generator %d of %d: index out of range", j.Index, j.Of)
	}
	sc, err := j.Timing.Build(j.Scenario)
	if err != nil {
		return err
	}
	if j.Rate > 0 && j.Rate != sc.Rate {
		sc.Rate, sc.Load = j.Rate, Constant(j.Rate)
	}
	if err := os.MkdirAll(j.Out, 0o755); err != nil {
		return fmt.Errorf("generator out dir: %w", err)
	}
	var full Schedule = &Paced{Rate: sc.Load, Duration: j.Length}
	if j.Timing.Poisson {
		full = &Poisson{Rate: sc.Load, Duration: j.Length, Seed: j.Seed}
	}
	sender := NewSender(j.Base, j.Timeout)
	defer sender.Close()
	var c Collector
	cpu0 := cpuTime()
	// Requests outlive ctx: a stopped schedule still waits for its answers.
	reqCtx := context.WithoutCancel(ctx)
	pace := Fire(ctx, RealClock{}, j.Start, &Every{S: full, N: j.Of, I: j.Index}, func(seq int, due time.Time) {
		global := seq*j.Of + j.Index
		sender.Post(reqCtx, sc.Request(j.Prefix, global, due), &c)
	})
	wctx, cancel := context.WithTimeout(context.Background(), j.Timeout+time.Second)
	defer cancel()
	c.Wait(wctx)
	outs := c.Outcomes()
	if err := writeOutcomes(generatorFile(j.Out, j.Index, "outcomes"), outs); err != nil {
		return err
	}
	if err := writeGeneratorLog(generatorFile(j.Out, j.Index, "hlog"), j.Start, outs); err != nil {
		return err
	}
	sum := GeneratorSummary{Fired: pace.Fired, Recorded: len(outs), CPUS: round3((cpuTime() - cpu0).Seconds()), Note: pace.Note}
	b, _ := json.Marshal(sum) // numbers and a string always encode
	return writeFileAtomic(generatorFile(j.Out, j.Index, "json"), append(b, '\n'))
}

// writeGeneratorLog writes one interval per second of the run, tagged
// http (due -> answer) and send_delay (due -> written).
func writeGeneratorLog(path string, start time.Time, outs []Outcome) error {
	type pair struct{ http, send *hdrhistogram.Histogram }
	var secs []pair
	at := func(t time.Time) *pair {
		i := max(0, int(t.Sub(start)/time.Second))
		for len(secs) <= i {
			secs = append(secs, pair{newLatencyHist(), newLatencyHist()})
		}
		return &secs[i]
	}
	for _, o := range outs {
		if o.Canceled {
			continue
		}
		recordMS(at(o.Due).http, o.Done.Sub(o.Due))
		if !o.Wrote.IsZero() {
			recordMS(at(o.Due).send, o.Wrote.Sub(o.Due))
		}
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return fmt.Errorf("interval log: %w", err)
	}
	w := bufio.NewWriter(f)
	lw, err := NewIntervalLogWriter(w, start)
	for i := 0; err == nil && i < len(secs); i++ {
		from := start.Add(time.Duration(i) * time.Second)
		if err = lw.Write(results.HistHTTP, from, from.Add(time.Second), secs[i].http); err == nil {
			err = lw.Write(results.HistSendDelay, from, from.Add(time.Second), secs[i].send)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("interval log: %w", err)
	}
	return os.Rename(path+".tmp", path)
}

func writeOutcomes(path string, outs []Outcome) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, o := range outs {
		if err = enc.Encode(o); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("outcomes: %w", err)
	}
	return os.Rename(path+".tmp", path)
}

func readOutcomes(path string) ([]Outcome, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	defer f.Close()
	var out []Outcome
	dec := json.NewDecoder(bufio.NewReader(f))
	for dec.More() {
		var o Outcome
		if err := dec.Decode(&o); err != nil {
			return nil, fmt.Errorf("outcomes %s: %w", path, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// add keeps outcomes read back from generator processes.
func (c *Collector) add(outs []Outcome) {
	for _, o := range outs {
		c.sent.Add(1)
		c.record(o)
	}
}

// fireRemote is the measured phase's load sent by b.Generators processes.
func (r *run) fireRemote(stop context.Context, m *measured, sc Scenario, length time.Duration, prefix string) (Pace, error) {
	b := r.b
	dir := filepath.Join(b.Out, "generators", fmt.Sprintf("%03d", r.plan.Index))
	job := GeneratorJob{Base: r.base, Scenario: sc.Name, Timing: b.Timing, Rate: sc.Rate, Length: length, Start: m.start,
		Prefix: prefix, Seed: b.Timing.Seed + uint64(r.plan.Index), Timeout: b.Timing.RequestTimeout, Out: dir}
	logf, err := OpenLog(b.Out, fmt.Sprintf("%03d-generators", r.plan.Index))
	if err != nil {
		return Pace{}, err
	}
	defer logf.Close()
	merged, err := runGenerators(stop, b.Exe, job, b.Generators, logf)
	if err != nil {
		return Pace{}, err
	}
	m.jobs.add(merged.Outcomes)
	m.remote = &merged
	return Pace{Fired: merged.Fired, SendDelay: merged.SendDelay, Note: merged.Note}, nil
}

// Merged is what the bench reads back from N generators' files.
type Merged struct {
	Outcomes  []Outcome
	Fired     int
	CPUS      float64
	Note      string                  // a generator's pacer note, if any said one
	HTTP      *hdrhistogram.Histogram // merged from the interval logs
	SendDelay *hdrhistogram.Histogram
	Counts    []int64 // http histogram count per generator, for the check
}

// MergeGenerators reads n generators' files from dir.
func MergeGenerators(dir string, n int) (Merged, error) {
	m := Merged{HTTP: newLatencyHist(), SendDelay: newLatencyHist()}
	for i := range n {
		outs, err := readOutcomes(generatorFile(dir, i, "outcomes"))
		if err != nil {
			return m, err
		}
		m.Outcomes = append(m.Outcomes, outs...)
		f, err := os.Open(generatorFile(dir, i, "hlog"))
		if err != nil {
			return m, fmt.Errorf("generator %d: %w", i, err)
		}
		ivs, err := ReadIntervalLog(f)
		f.Close()
		if err != nil {
			return m, fmt.Errorf("generator %d: %w", i, err)
		}
		h := MergeIntervals(ivs, results.HistHTTP)
		m.Counts = append(m.Counts, h.TotalCount())
		m.HTTP.Merge(h)
		m.SendDelay.Merge(MergeIntervals(ivs, results.HistSendDelay))
		b, err := os.ReadFile(generatorFile(dir, i, "json"))
		if err != nil {
			return m, fmt.Errorf("generator %d: %w", i, err)
		}
		var s GeneratorSummary
		if err := json.Unmarshal(b, &s); err != nil {
			return m, fmt.Errorf("generator %d summary: %w", i, err)
		}
		m.Fired += s.Fired
		m.CPUS += s.CPUS
		if m.Note == "" {
			m.Note = s.Note
		}
	}
	return m, nil
}

// GeneratorArgs is the command line of `offload generate` for j.
func GeneratorArgs(j GeneratorJob) ([]string, error) {
	t, err := json.Marshal(j.Timing)
	if err != nil {
		return nil, fmt.Errorf("encode timing: %w", err)
	}
	return []string{"generate", "--base", j.Base, "--scenario", j.Scenario, "--timing", string(t),
		"--rate", strconv.FormatFloat(j.Rate, 'f', -1, 64), "--length", j.Length.String(), "--start", strconv.FormatInt(j.Start.UnixNano(), 10),
		"--index", strconv.Itoa(j.Index), "--of", strconv.Itoa(j.Of), "--prefix", j.Prefix,
		"--seed", strconv.FormatUint(j.Seed, 10), "--timeout", j.Timeout.String(), "--out", j.Out}, nil
}

// runGenerators starts n generator processes for job (Index and Of set
// per process), stops their schedules when stop ends, and merges their
// files once all have exited.
func runGenerators(stop context.Context, exe string, job GeneratorJob, n int, out *os.File) (Merged, error) {
	var ps []*proc.Process
	defer func() {
		for _, p := range ps {
			_ = p.Kill()
		}
	}()
	for i := range n {
		j := job
		j.Index, j.Of = i, n
		args, err := GeneratorArgs(j)
		if err != nil {
			return Merged{}, err
		}
		spec := proc.Spec{Name: fmt.Sprintf("generator-%d", i+1), Path: exe, Args: args}
		if out != nil {
			spec.Output = out
		}
		p, err := proc.Start(spec)
		if err != nil {
			return Merged{}, err
		}
		ps = append(ps, p)
	}
	stopped := false
	for _, p := range ps {
		select {
		case <-p.Done():
		case <-stop.Done():
			if !stopped {
				stopped = true
				for _, q := range ps {
					_ = q.Signal(syscall.SIGTERM) // the schedule stops; answers owed are still waited for
				}
			}
			<-p.Done()
		}
	}
	var errs []error
	for i, p := range ps {
		if err := p.Err(); err != nil {
			errs = append(errs, fmt.Errorf("generator %d: %w", i+1, err))
		}
	}
	if len(errs) > 0 {
		return Merged{}, errors.Join(errs...)
	}
	return MergeGenerators(job.Out, n)
}
