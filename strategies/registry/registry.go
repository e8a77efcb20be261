// Package registry is the one place that names every strategy, so a reader
// can see them all in one map literal, and adding a seventh is one line.
package registry

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/eventbus"
	"github.com/offload/offload/strategies/fireforget"
	"github.com/offload/offload/strategies/foreground"
	"github.com/offload/offload/strategies/localipc"
	"github.com/offload/offload/strategies/pubsub"
	"github.com/offload/offload/strategies/queue"
)

// Entry describes one strategy: how to build its web side and its worker,
// and what it needs.
type Entry struct {
	New        func(strategies.Config) (strategies.Strategy, error)
	NeedsRedis bool // offload run starts a redis-server unless given one
	// Worker, when set, is the `offload work` side: it registers the
	// worker's own flags on fs and returns what to run once they are parsed.
	// nil: the jobs run in the web process.
	Worker func(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.WorkConfig) error
	// ExtraWorkers are further `offload work` processes `offload run`
	// starts once each, beside its N ordinary ones: each is the extra
	// arguments appended to the common flags (eventbus: one audit consumer).
	ExtraWorkers [][]string
	Description  string
	// NoRedisTransports are --transport values that need no Redis even
	// though NeedsRedis is set (pubsub over zmq).
	NoRedisTransports []string
	// Run, when set, replaces offload run's generic supervision once the
	// mail sink (and Redis) are up: localipc's leader must own its
	// children to pass messages between them. It registers its own flags
	// on fs and returns what to run once they are parsed.
	Run func(fs *flag.FlagSet) func(ctx context.Context, cfg strategies.RunConfig) error
}

// WantsRedis reports whether offload run must provide Redis for transport.
func (e Entry) WantsRedis(transport string) bool {
	return e.NeedsRedis && !slices.Contains(e.NoRedisTransports, transport)
}

// HasWorkers reports whether jobs run in `offload work` processes.
func (e Entry) HasWorkers() bool { return e.Worker != nil }

var entries = map[string]Entry{
	"foreground": {New: foreground.New, Description: "performs the job, then answers"},
	"fireforget": {New: fireforget.New, Description: "answers at once, runs the job in the web process, ignores the result"},
	"queue": {New: queue.New, NeedsRedis: true, Worker: queue.Worker,
		Description: "enqueues into Redis in Resque's layout; worker processes claim, retry and recover jobs"},
	"localipc": {New: localipc.New, Worker: localipc.Worker, Run: localipc.Run,
		Description: "hands the job over IPC to a supervisor that relays it to an in-memory worker child (one machine)"},
	"pubsub": {New: pubsub.New, NeedsRedis: true, NoRedisTransports: []string{"zmq"}, Worker: pubsub.Worker,
		Description: "publishes the job to in-memory workers: redis PUBLISH fans out to every subscriber, zmq hands it to one"},
	"eventbus": {New: eventbus.New, NeedsRedis: true, Worker: eventbus.Worker,
		ExtraWorkers: [][]string{{"--group", "audit", "--handler", "audit"}},
		Description:  "appends an event to a Redis Stream; each handler is a consumer group; replayable"},
}

// Lookup returns the entry for name, or an error that lists the valid names.
func Lookup(name string) (Entry, error) {
	e, ok := entries[name]
	if !ok {
		return Entry{}, fmt.Errorf("unknown strategy %q: use one of %s", name, strings.Join(Names(), ", "))
	}
	return e, nil
}

// Names lists the strategies in the order the talk presents them.
func Names() []string {
	order := []string{"foreground", "fireforget", "localipc", "pubsub", "queue", "eventbus"}
	var out []string
	for _, n := range order {
		if _, ok := entries[n]; ok {
			out = append(out, n)
		}
	}
	var extra []string
	for n := range entries {
		if !slices.Contains(order, n) {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}
