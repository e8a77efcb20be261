package resque

import (
	"strconv"
	"strings"
)

// Keys builds every Redis key this package touches, in one place, so the
// layout can be read (and checked against node-resque and Ruby resque) here.
// Names below "offload:" are our own extensions; everything else is exactly
// what node-resque 9 and resque write.
type Keys struct {
	ns string // "resque:" — the namespace with its separator
}

// NewKeys returns the key builder for namespace ns ("resque" when empty).
func NewKeys(ns string) Keys {
	if ns == "" {
		ns = DefaultNamespace
	}
	return Keys{ns: strings.TrimSuffix(ns, ":") + ":"}
}

// Prefix is the namespace with its trailing colon, for Lua scripts that
// build keys whose names depend on data (a job's queue or id).
func (k Keys) Prefix() string { return k.ns }

func (k Keys) Queues() string             { return k.ns + "queues" }
func (k Keys) Queue(q string) string      { return k.ns + "queue:" + q }
func (k Keys) Failed() string             { return k.ns + "failed" }
func (k Keys) Workers() string            { return k.ns + "workers" }
func (k Keys) Stat(name string) string    { return k.ns + "stat:" + name }
func (k Keys) Schedule() string           { return k.ns + "delayed_queue_schedule" }
func (k Keys) Delayed(ts int64) string    { return k.ns + "delayed:" + strconv.FormatInt(ts, 10) }
func (k Keys) Timestamps(p string) string { return k.ns + "timestamps:" + p }
func (k Keys) LeaderLock() string         { return k.ns + "resque_scheduler_leader_lock" }

// WorkerStat is resque:stat:<stat>:<worker>.
func (k Keys) WorkerStat(stat, worker string) string { return k.ns + "stat:" + stat + ":" + worker }

// Ping is resque:worker:ping:<worker>, node-resque's liveness key. We give
// it a TTL: its absence is how a dead worker is recognised, with no clock
// comparison between machines.
func (k Keys) Ping(worker string) string { return k.ns + "worker:ping:" + worker }

// WorkerStarted is resque:worker:<worker>:<queues>:started.
func (k Keys) WorkerStarted(worker, queues string) string {
	return k.ns + "worker:" + worker + ":" + queues + ":started"
}

// Inflight is our per-worker processing list: every job a worker claimed
// and has not acknowledged. A worker that dies leaves it behind for Reclaim.
func (k Keys) Inflight(worker string) string { return k.ns + "offload:inflight:" + worker }

// Holders is the set of workers that may own an inflight list; Reclaim
// walks it.
func (k Keys) Holders() string { return k.ns + "offload:holders" }

// JobPrefix + id is a job's status hash (status, attempts, updated, error).
func (k Keys) JobPrefix() string    { return k.ns + "offload:job:" }
func (k Keys) Job(id string) string { return k.JobPrefix() + id }
func (k Keys) Retries() string      { return k.ns + "stat:offload_retries" }
func (k Keys) Reclaimed() string    { return k.ns + "stat:offload_reclaimed" }
