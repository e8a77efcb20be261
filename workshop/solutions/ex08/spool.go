// Package ex08 is a reference solution of exercise 8. Spoilers: try
// workshop/ex08 first. The workshop tests run the check against it.
//
// spool is the oldest answer there is, the one mail servers themselves use
// (sendmail's and postfix's queue directories): the web side writes each
// job to a file, fsyncs it and renames it into the spool directory before
// it answers 202; a delivery goroutine sends what it finds there and
// removes a file once the mail server took the mail.
//
// Why it is better: a job survives a crash of the web process the moment
// it was answered (the rename is atomic, the data is on disk), with no
// broker to run. Temporary failures are retried with backoff; eight mails are on
// their way at once.
//
// Why it is still a bad idea: bound to one machine's disk, like localipc;
// the deliverer runs inside the web process here (a real one would be an
// `offload work` process reading the same directory); a crash between the
// send and the remove delivers that job twice (at-least-once); and an fsync
// per job caps throughput at what the disk can sync.
package ex08

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
	"github.com/offload/offload/strategies"
)

// Spool is the strategy: the web side and, here, the deliverer.
type Spool struct {
	dir       string
	temporary bool // made by New: Close removes it
	mailer    *mailer.Mailer
	log       *slog.Logger
	kick      chan struct{} // a job was spooled: look now rather than at the next tick
	cancel    context.CancelFunc
	done      chan struct{}
	once      sync.Once
}

var (
	_ strategies.Strategy = (*Spool)(nil)
	_ strategies.Tracker  = (*Spool)(nil)
)

// New opens the spool directory named by $OFFLOAD_SPOOL_DIR (kept across
// restarts: what a crash left there is delivered after it) or, when unset,
// a fresh temporary one that Close removes. A real strategy would take it
// from a flag (a strategies.Config field).
func New(cfg strategies.Config) (strategies.Strategy, error) {
	m, err := mailer.New(mailer.Config{Addr: cfg.SMTPAddr})
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	dir, temporary := os.Getenv("OFFLOAD_SPOOL_DIR"), false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "offload-spool-"); err != nil {
			return nil, fmt.Errorf("spool: make directory: %w", err)
		}
		temporary = true
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Spool{dir: dir, temporary: temporary, mailer: m, log: log, kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go s.deliver(ctx)
	return s, nil
}

func (s *Spool) Name() string { return "spool" }

// Submit writes the job to disk on the thread pool and answers once it is
// there: file writes and fsync are what Node hands to libuv's pool, not
// network I/O, so they wait for one of --pool threads.
func (s *Spool) Submit(rt strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	rt.Pool(func() error { return s.write(j) }, func(err error) {
		if err != nil {
			reply(strategies.Outcome{Err: fmt.Errorf("%w: %w", strategies.ErrUnavailable, err)})
			return
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
		reply(strategies.Outcome{Status: strategies.StatusQueued})
	})
}

// write puts j in the spool atomically: write and fsync a temporary file,
// then rename it into place, so the deliverer never sees half a job.
func (s *Spool) write(j job.Job) error {
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	tmp := filepath.Join(s.dir, "tmp", j.ID+".json")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool job %s: %w", j.ID, err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool job %s: %w", j.ID, err)
	}
	if err := os.Rename(tmp, s.path(j.ID)); err != nil {
		return fmt.Errorf("spool job %s: %w", j.ID, err)
	}
	return nil
}

func (s *Spool) path(id string) string { return filepath.Join(s.dir, id+".json") }

// senders is how many mails are on their way at once: one at a time
// would cap the spool at one mail per provider round trip.
const senders = 8

// deliver sends whatever is in the spool, oldest name first, senders at a
// time, until ctx ends.
func (s *Spool) deliver(ctx context.Context) {
	defer close(s.done)
	var (
		mu       sync.Mutex
		inFlight = map[string]bool{}
		retryAt  = map[string]time.Time{} // backoff for jobs that failed
		wait     = map[string]time.Duration{}
		wg       sync.WaitGroup
	)
	defer wg.Wait()
	slots := make(chan struct{}, senders)
	finished := make(chan struct{}, senders)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		entries, err := os.ReadDir(s.dir)
		if err != nil {
			s.log.Error("spool: read directory", "err", err)
		}
	scan:
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), ".json")
			mu.Lock()
			skip := !ok || e.IsDir() || inFlight[id] || time.Now().Before(retryAt[id])
			mu.Unlock()
			if skip {
				continue
			}
			select {
			case slots <- struct{}{}:
			default:
				break scan // every sender busy: look again when one is done
			}
			mu.Lock()
			inFlight[id] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.deliverOne(ctx, id)
				mu.Lock()
				delete(inFlight, id)
				if err != nil {
					d := min(2*max(wait[id], 50*time.Millisecond), 5*time.Second)
					wait[id], retryAt[id] = d, time.Now().Add(d)
					s.log.Warn("spool: delivery failed; will retry", "job", id, "in", d, "err", err)
				} else {
					delete(wait, id)
					delete(retryAt, id)
				}
				mu.Unlock()
				<-slots
				select {
				case finished <- struct{}{}:
				default:
				}
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-finished:
		case <-tick.C:
		}
	}
}

func (s *Spool) deliverOne(ctx context.Context, id string) error {
	raw, err := os.ReadFile(s.path(id))
	if err != nil {
		return err
	}
	var j job.Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return fmt.Errorf("decode spooled job: %w", err)
	}
	if err := j.Validate(); err != nil {
		return fmt.Errorf("spooled job %s: %w", id, err)
	}
	if err := s.mailer.Send(ctx, j); err != nil {
		return err
	}
	// A crash here sends the job again after a restart: at-least-once.
	return os.Remove(s.path(id))
}

// State says whether a job is still waiting in the spool.
func (s *Spool) State(_ context.Context, id string) (strategies.JobState, error) {
	info, err := os.Stat(s.path(id))
	if err != nil {
		return strategies.JobState{}, fmt.Errorf("%w: job %s is not in the spool: delivered, or never spooled (the spool keeps no history)", strategies.ErrNotTracked, id)
	}
	return strategies.JobState{ID: id, Strategy: "spool", Status: strategies.StatusQueued, Updated: info.ModTime()}, nil
}

// Close stops the deliverer. Jobs still spooled stay for the next start
// from the same directory; a temporary directory is removed.
func (s *Spool) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		if left, _ := filepath.Glob(filepath.Join(s.dir, "*.json")); len(left) > 0 {
			s.log.Warn("spool: jobs left undelivered", "count", len(left), "dir", s.dir)
		}
		if s.temporary {
			_ = os.RemoveAll(s.dir)
		}
		_ = s.mailer.Close()
	})
	return nil
}
