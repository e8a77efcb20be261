package harness

import (
	"flag"
	"io"
	"strconv"

	"github.com/offload/offload/strategies/catalog"
)

// concurrencyArgs is --concurrency N for a process that sends mail, or
// nothing when the bench leaves each strategy at its own default (n = 0).
func concurrencyArgs(n int) []string {
	if n <= 0 {
		return nil
	}
	return []string{"--concurrency", strconv.Itoa(n)}
}

// webSends reports whether the strategy's web process (or, Supervised, the
// `offload run` that passes the flag on to its worker) is the one that
// takes --concurrency: foreground and fireforget send from the web side.
func webSends(e catalog.Entry) bool { return e.Layout() != catalog.Brokered }

// senderConcurrency is the mail sends in flight per sending process a run
// has: set when the bench was given one, else the strategy's own default,
// read from the --concurrency flag its worker registers. 0 means no cap
// (foreground, fireforget send every mail at once) or, for the queue, the
// autoscaler between --min and --max.
func senderConcurrency(e catalog.Entry, set int) int {
	if set > 0 {
		return set
	}
	fs := flag.NewFlagSet("defaults", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch e.Layout() {
	case catalog.Supervised:
		e.Run(fs)
	case catalog.Brokered:
		e.Worker(fs)
	default:
		return 0
	}
	if f := fs.Lookup("concurrency"); f != nil {
		n, _ := strconv.Atoi(f.DefValue)
		return n
	}
	return 0
}

// senders is how many mails the run's strategy can have in flight at once
// over all its sending processes: each worker's concurrency times the
// workers, or the one sending process's; 0 when uncapped or not known (an
// external target, the queue's autoscaler).
func (r *run) senders() int {
	if r.plan.Entry.Name == "" {
		return 0
	}
	n := senderConcurrency(r.plan.Entry, r.plan.Concurrency)
	if r.plan.Entry.Layout() == catalog.Brokered {
		n *= max(1, r.plan.Workers)
	}
	return n
}
