// Package localipc is the talk's "local messages (fork-ish)" strategy: a
// leader process (`offload run --strategy localipc`) starts two children of
// the same binary — the web server and an email worker — checks on them
// every second and restarts any that died. The web child hands each job to
// the leader over a Unix socket (internal/ipc: length-prefixed JSON frames,
// 1 MiB limit; in Linux's abstract namespace, elsewhere a socket file in a
// private 0700 directory); the leader relays it to the worker, which keeps an in-memory queue with a
// throttle, a concurrency bound and retries (internal/memqueue, the same
// code pubsub's subscribers run). The worker reports each job's state and
// its counters back through the leader, so the web child's /metrics and
// GET /jobs/{id} show the worker's state.
//
// Why it is better: the web process never touches SMTP or burns a job's
// CPU; a failing mail server is retried with backoff; the worker throttles.
// A job is accepted once its frame is in the leader's socket, so it survives
// the web child dying right after the 202. A job accepted while the worker
// is down waits in the leader and is delivered when the worker is back.
//
// Why it is still a bad idea: everything is memory on one machine. When the
// worker dies, every job it held — queued, in flight, waiting for a retry —
// is lost; the leader knows which (it relayed them and saw no final state),
// logs their count and tells the web child, whose GET /jobs/{id} then says
// "failed: lost" and whose offload_localipc_lost_total counts them. When
// the leader dies, the children die with it (internal/proc: Pdeathsig
// on Linux, a lifeline pipe elsewhere) and so does every
// job waiting in it or in the worker. Only one worker, on one machine: no
// scaling out. A job delivered just before the worker died, whose "done"
// never reached the leader, is reported lost although it arrived: the mail
// sink, not this report, is the truth.
package localipc

import (
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/memqueue"
)

// Roles a child announces in its hello.
const (
	roleWeb    = "web"
	roleWorker = "worker"
)

// message is every frame between the leader and its children.
type message struct {
	// Type: "hello" (child -> leader, first frame), "job" (web -> leader ->
	// worker), "state" (worker -> leader -> web), "stats" (worker ->
	// leader: the queue's counters; leader -> web: relayed with its own),
	// "lost" (leader -> web: ids that died with the worker).
	Type  string          `json:"t"`
	Role  string          `json:"role,omitempty"`
	PID   int             `json:"pid,omitempty"`
	Job   *job.Job        `json:"job,omitempty"`
	State *memqueue.State `json:"state,omitempty"`
	Stats *relayed        `json:"stats,omitempty"`
	IDs   []string        `json:"ids,omitempty"`
}

// relayed is what the web child learns about the rest of the family.
type relayed struct {
	Worker    memqueue.Stats `json:"worker"`
	WorkerUp  bool           `json:"worker_up"`
	WorkerPID int            `json:"worker_pid,omitempty"`
	Pending   int            `json:"pending"`  // waiting in the leader for a worker
	Restarts  int            `json:"restarts"` // of the worker, by the leader
	Lost      int64          `json:"lost"`     // jobs that died with a worker
}
