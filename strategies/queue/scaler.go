package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies/queue/resque"
)

// scaler is node-resque's MultiWorker rule, driven by our lag monitor: every
// check, if the loop was blocked since the last one, remove a processor;
// if not, add one when below min or when more than half are busy and below
// max; remove one when above min and fewer than half are busy.
type scaler struct {
	k       *resque.Consumer
	mon     *lagmonitor.Monitor
	o       WorkOptions
	log     *slog.Logger
	changes *prometheus.CounterVec
	blocks  int64
}

func newScaler(k *resque.Consumer, mon *lagmonitor.Monitor, o WorkOptions, log *slog.Logger) *scaler {
	return &scaler{k: k, mon: mon, o: o, log: log, changes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "offload_worker_scale_changes_total",
		Help: "Processors added or removed by the multi-worker, by direction and reason.",
	}, []string{"direction", "reason"})}
}

func (s *scaler) run(ctx context.Context) {
	if s.o.Min == s.o.Max {
		return
	}
	t := time.NewTicker(s.o.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.check()
		}
	}
}

// decide is the rule itself, kept pure for tests.
func decide(blocked bool, size, busy, lo, hi int) (delta int, reason string) {
	switch {
	case blocked && size > lo:
		return -1, "loop blocked"
	case blocked:
		return 0, ""
	case size < lo:
		return +1, "below min"
	case size < hi && busy*2 > size:
		return +1, "more than half busy"
	case size > lo && busy*2 < size:
		return -1, "idle"
	}
	return 0, ""
}

func (s *scaler) check() {
	snap := s.mon.Snapshot()
	blocks := snap.Blocks - s.blocks // stalls since the last check: what the rule reads
	blocked := blocks > 0
	s.blocks = snap.Blocks
	size, busy := s.k.Size(), s.k.Busy()
	delta, reason := decide(blocked, size, busy, s.o.Min, s.o.Max)
	if delta == 0 {
		return
	}
	s.k.SetSize(size + delta)
	dir := "up"
	if delta < 0 {
		dir = "down"
	}
	s.changes.WithLabelValues(dir, reason).Inc()
	s.log.Info("multi-worker resized", "from", size, "to", size+delta, "reason", reason, "busy", busy, "stalls", blocks, "block_threshold_ms", snap.BlockThresholdMS)
}
