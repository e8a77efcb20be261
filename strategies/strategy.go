// Package strategies is the contract between the web server and the six
// ways of getting a job off the request path. The web side only hands a job
// over (Submit); where and how it runs is the strategy's business. What every
// strategy needs (HTTP decoding, ids, metrics, the loop) lives outside them,
// in internal/httpapi and internal/eventloop, so each strategy stays small.
//
// Optional capabilities are separate small interfaces found by type
// assertion, as in database/sql/driver: Tracker for GET /jobs/{id},
// Scheduler for delayed jobs. The HTTP layer asserts them once, so a
// strategy that lacks one neither checks for it nor pretends to have it.
package strategies

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/joblog"
)

// Runtime is how a strategy does work that may block without knowing the
// concurrency model: fn runs where blocking is allowed, cb where handler
// code runs (see internal/eventloop). It has two paths: rt.IO for network
// calls (SMTP, Redis, IPC, any broker or database over a socket), which
// under --loop node are not capped, as Node's sockets are not; and rt.Pool
// only for what Node gives libuv's thread pool (file writes and fsync,
// dns, crypto, CPU moved off the loop on purpose), capped at --pool.
type Runtime = eventloop.Runtime

// Strategy is the web side of one way to move a job off the request path.
type Strategy interface {
	// Name is the strategy's catalog name.
	Name() string
	// Submit hands j over and calls reply exactly once with the outcome.
	// It is called as handler code (on the loop under --loop node): it must
	// not block. A backend call over the network goes through rt.IO (and,
	// to be charged as Node's client library would be, eventloop.Charge
	// beside it); file work goes through rt.Pool. Code after reply runs
	// after the client has its answer, as code after res.end does.
	Submit(rt Runtime, j job.Job, reply func(Outcome))
	// Close releases connections and stops background work, bounded by ctx.
	// Safe to call twice.
	Close(ctx context.Context) error
}

// Status of a job as the web side reports it.
type Status string

const (
	StatusDone     Status = "done"     // performed before the answer (foreground)
	StatusAccepted Status = "accepted" // handed over; runs later
	StatusQueued   Status = "queued"
	StatusRunning  Status = "running"
	StatusFailed   Status = "failed"
	StatusUnknown  Status = "unknown"
)

// Final reports whether no further change will follow for a job.
func (s Status) Final() bool { return s == StatusDone || s == StatusFailed }

// NewJobLog is the bounded memory of JobStates that a process answers
// GET /jobs/{id} from: jobs in progress, and the last keep finished ones.
func NewJobLog(keep int) *joblog.Log[JobState] {
	return joblog.New(keep, func(s JobState) bool { return s.Status.Final() })
}

// Outcome is Submit's answer. Err set means the job was not accepted; the
// HTTP layer maps it with errors.Is (ErrUnavailable -> 503, ErrDelivery ->
// 502, job.FieldError -> 400, anything else -> 500).
type Outcome struct {
	Status Status
	Err    error
	// Extra fields for the response body, e.g. the event bus's stream id.
	Extra map[string]any
}

// Sentinels the HTTP layer maps to status codes.
var (
	// ErrUnavailable: the strategy cannot take jobs now (broker down, no
	// worker, queue full). 503: the client should retry.
	ErrUnavailable = errors.New("cannot accept jobs now")
	// ErrDelivery: the job ran and failed (foreground's SMTP error). 502.
	ErrDelivery = errors.New("delivery failed")
	// ErrNotTracked: the strategy cannot know a job's status. 404 with reason.
	ErrNotTracked = errors.New("job status not tracked")
	// ErrUnknownJob: the strategy tracks jobs but not this one. 404.
	ErrUnknownJob = errors.New("no such job")
	// ErrUnsupported: the job asks for something this strategy cannot do. 400.
	ErrUnsupported = errors.New("not supported by this strategy")
)

// JobState is what GET /jobs/{id} answers.
type JobState struct {
	ID       string         `json:"id"`
	Strategy string         `json:"strategy"`
	Status   Status         `json:"status"`
	Attempts int            `json:"attempts,omitempty"`
	Error    string         `json:"error,omitempty"`
	Updated  time.Time      `json:"updated,omitzero"`
	Extra    map[string]any `json:"extra,omitempty"`
}

// Tracker is implemented by strategies that can report a job's status:
// only those that keep a record a status can be read from. State is called
// off the loop, on the I/O path (rt.IO), since a record may be read over the
// network: it may block, and it may run while the loop runs Submit's
// callbacks, so state it shares with them needs a lock.
type Tracker interface {
	State(ctx context.Context, id string) (JobState, error)
}

// Scheduler is implemented by strategies that can hold a job until a later
// time (the request's delay_ms). The HTTP layer calls SubmitAt instead of
// Submit for a delayed job, on the same terms as Submit, and answers 400
// naming delay_ms for every strategy that is not a Scheduler.
type Scheduler interface {
	SubmitAt(rt Runtime, j job.Job, at time.Time, reply func(Outcome))
}

// Config is what the web side of any strategy may need: the common
// `offload serve` flags. Zero values mean "not given"; a strategy that
// needs a field says so in its error. A strategy's own options are its own
// flags, registered by its catalog entry's WebFlags.
type Config struct {
	SMTPAddr    string // mail server host:port
	RedisURL    string // redis://host:port/db
	Transport   string // "redis" (default) or "zmq", for strategies that offer both
	ZMQEndpoint string // zmq: the endpoint the web side binds
	Durable     string // "wait": answer 202 only once a replica has the job (WAIT 1), for strategies whose catalog entry says Durable
	// Concurrency caps the mail sends in flight for strategies that send
	// from the web process (foreground, fireforget), over as many reused
	// SMTP connections. 0: no cap, a connection per mail, as Node's
	// nodemailer without a pool.
	Concurrency int
	Logger      *slog.Logger
	Metrics     prometheus.Registerer // never nil when built by the server
}

// WorkConfig is what any `offload work` process gets from the common flags.
// Strategy-specific worker flags are registered by the catalog entry's
// Worker func and captured in its closure.
type WorkConfig struct {
	SMTPAddr    string
	RedisURL    string
	Transport   string
	ZMQEndpoint string
	Durable     string // "wait": acknowledge a job only once a replica has the ack (WAIT 1)
	// HTTPAddr is where the worker serves /metrics and /debug/lag ("" = none).
	HTTPAddr string
	Logger   *slog.Logger
}

// RunConfig is what `offload run` hands a strategy that supervises its own
// processes (localipc's leader) once the mail sink and Redis are up.
type RunConfig struct {
	Executable string   // the offload binary, to start children with
	WebArgs    []string // a complete `serve ...` command line for the web child
	WorkArgs   []string // a complete `work ...` command line for a worker child
	WebURL     string   // http://addr of the web child
	SinkInfo   string   // where mail goes, for the banner
	Stdout     io.Writer
	Stderr     io.Writer // children's output goes here, prefixed
	Logger     *slog.Logger
}
