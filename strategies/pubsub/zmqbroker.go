package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/offload/offload/internal/backoff"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/strategies"
)

// BrokerConfig tunes the zmq web side. Zero values take the defaults.
type BrokerConfig struct {
	HWM    int           // jobs waiting for a worker before Submit answers 503; default 10000
	Expiry time.Duration // silence after which a worker is dead; default 1.5s
	Recent int           // finished jobs GET /jobs/{id} remembers; default 10000
}

func (c BrokerConfig) withDefaults() BrokerConfig {
	if c.HWM == 0 {
		c.HWM = 10_000
	}
	if c.Expiry == 0 {
		c.Expiry = 6 * heartbeat
	}
	if c.Recent == 0 {
		c.Recent = 10_000
	}
	return c
}

// broker is the web side over ZeroMQ: a ROUTER, a queue waiting for credit,
// and a table of the jobs each worker holds.
type broker struct {
	cfg  BrokerConfig
	sock zmq4.Socket
	log  *slog.Logger
	m    brokerMetrics
	wake chan struct{}
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu     sync.Mutex
	queue  []job.Job // waiting for a worker; requeued jobs go first
	peers  map[string]*peer
	states stateLog
}

// peer is one connected worker as the web side sees it.
type peer struct {
	id       string
	credit   int
	seen     time.Time
	inflight map[string]job.Job // sent, not acked
}

func (p *peer) free() int { return p.credit - len(p.inflight) }

var (
	_ strategies.Strategy = (*broker)(nil)
	_ strategies.Tracker  = (*broker)(nil)
)

func newBroker(cfg strategies.Config, bc BrokerConfig) (*broker, error) {
	ep := cfg.ZMQEndpoint
	if ep == "" {
		ep = "tcp://127.0.0.1:5557"
	}
	if err := checkEndpoint(ep); err != nil {
		return nil, fmt.Errorf("pubsub: --zmq %q: %w", ep, err)
	}
	b := &broker{
		cfg:   bc.withDefaults(),
		log:   cfg.Logger,
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
		peers: map[string]*peer{},
	}
	b.states = newStateLog(b.cfg.Recent)
	// No reconnect options: this socket listens (they break a listener).
	b.sock = zmq4.NewRouter(context.Background(), zmq4.WithTimeout(2*time.Second))
	if err := b.sock.Listen(ep); err != nil {
		b.sock.Close()
		return nil, fmt.Errorf("pubsub: bind %s: %w", ep, err)
	}
	if err := b.m.register(cfg.Metrics, b); err != nil {
		b.sock.Close()
		return nil, err
	}
	b.log.Info("zmq router bound", "endpoint", ep)
	b.wg.Add(2)
	go b.receive()
	go b.dispatch()
	return b, nil
}

func checkEndpoint(ep string) error {
	u, err := url.Parse(ep)
	if err != nil {
		return err
	}
	if u.Scheme != "tcp" || !strings.Contains(u.Host, ":") {
		return errors.New("want tcp://host:port (ipc:// leaves a socket file behind after a crash)")
	}
	return nil
}

func (b *broker) Name() string { return "pubsub" }

// Submit queues j for the next worker with credit. It never blocks.
func (b *broker) Submit(_ strategies.Runtime, j job.Job, reply func(strategies.Outcome)) {
	b.mu.Lock()
	if len(b.queue) >= b.cfg.HWM {
		b.mu.Unlock()
		b.m.refused.Inc()
		reply(strategies.Outcome{Err: fmt.Errorf("%w: %d jobs already wait for a zmq worker (--hwm)", strategies.ErrUnavailable, b.cfg.HWM)})
		return
	}
	b.queue = append(b.queue, j)
	b.states.set(j.ID, strategies.StatusQueued, "", "")
	b.mu.Unlock()
	b.signal()
	reply(strategies.Outcome{Status: strategies.StatusAccepted})
}

func (b *broker) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// receive handles heartbeats and acks. zmq4's Recv ignores timeouts, so it
// has this goroutine to itself; Close unblocks it.
func (b *broker) receive() {
	defer b.wg.Done()
	retry := backoff.NewRetry(backoff.Policy{Base: 10 * time.Millisecond, Max: time.Second})
	for {
		msg, err := b.sock.Recv()
		if err != nil {
			select {
			case <-b.quit:
				return
			default:
			}
			if errors.Is(err, io.EOF) {
				continue // once per lost connection: the peer is gone, its jobs are re-queued on expiry
			}
			// Anything else may repeat at once: say it once per streak
			// and back off instead of spinning.
			if retry.Failures() == 0 {
				b.log.Warn("zmq receive failing; backing off", "err", err)
			}
			select {
			case <-b.quit:
				return
			case <-time.After(retry.Next()):
			}
			continue
		}
		if retry.Failures() > 0 {
			b.log.Info("zmq receive recovered", "after_failures", retry.Failures())
			retry.Reset()
		}
		if len(msg.Frames) < 2 {
			continue
		}
		var w wire
		if err := json.Unmarshal(msg.Frames[len(msg.Frames)-1], &w); err != nil {
			b.log.Warn("dropping undecodable message", "err", err)
			continue
		}
		b.handle(string(msg.Frames[0]), w)
	}
}

func (b *broker) handle(id string, w wire) {
	b.mu.Lock()
	p, known := b.peers[id]
	if !known {
		if w.Type != "hb" || w.Credit < 1 {
			b.mu.Unlock()
			if w.Type == "ack" {
				b.m.lateAcks.Inc() // its jobs were re-queued already
			}
			return
		}
		p = &peer{id: id, inflight: map[string]job.Job{}}
		b.peers[id] = p
		b.log.Info("worker joined", "worker", id, "credit", w.Credit)
	}
	p.seen = time.Now()
	switch w.Type {
	case "hb":
		p.credit = w.Credit
	case "ack":
		if _, ok := p.inflight[w.ID]; !ok {
			b.m.lateAcks.Inc()
			break
		}
		delete(p.inflight, w.ID)
		if w.OK {
			b.m.acked.WithLabelValues("done").Inc()
			b.states.set(w.ID, strategies.StatusDone, id, "")
		} else {
			b.m.acked.WithLabelValues("failed").Inc()
			b.states.set(w.ID, strategies.StatusFailed, id, w.Error)
		}
	}
	b.mu.Unlock()
	b.signal()
}

// dispatch sends queued jobs to workers with credit and buries silent
// workers, until Close.
func (b *broker) dispatch() {
	defer b.wg.Done()
	t := time.NewTicker(heartbeat / 2)
	defer t.Stop()
	for {
		select {
		case <-b.quit:
			return
		case <-b.wake:
		case <-t.C:
			b.expire()
		}
		for b.sendOne() {
		}
	}
}

// sendOne hands the first queued job to the worker with the most free
// credit; false when there is nothing to send or nobody to send it to.
func (b *broker) sendOne() bool {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.mu.Unlock()
		return false
	}
	var best *peer
	for _, p := range b.peers {
		if p.free() > 0 && (best == nil || p.free() > best.free()) {
			best = p
		}
	}
	if best == nil {
		b.mu.Unlock()
		return false
	}
	j := b.queue[0]
	b.queue[0] = job.Job{}
	b.queue = b.queue[1:]
	best.inflight[j.ID] = j
	b.states.set(j.ID, strategies.StatusRunning, best.id, "")
	b.mu.Unlock()

	err := b.sock.Send(zmq4.NewMsgFrom([]byte(best.id), wire{Type: "job", Job: &j}.encode()))
	if err != nil {
		b.log.Warn("send failed; worker dropped, its jobs re-queued", "worker", best.id, "err", err)
		b.mu.Lock()
		b.buryLocked(best)
		b.mu.Unlock()
		return true
	}
	b.m.sent.Inc()
	return true
}

// expire buries workers that missed their heartbeats.
func (b *broker) expire() {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.peers {
		if now.Sub(p.seen) > b.cfg.Expiry {
			b.log.Warn("worker silent; re-queueing its jobs", "worker", p.id, "silent", now.Sub(p.seen).Round(time.Millisecond), "jobs", len(p.inflight))
			b.buryLocked(p)
		}
	}
}

// buryLocked forgets p and puts its unacked jobs at the front of the queue:
// they may have been done (an ack lost with the worker), so a re-sent job
// can arrive twice — at-least-once, never lost while the web side lives.
func (b *broker) buryLocked(p *peer) {
	if _, ok := b.peers[p.id]; !ok {
		return
	}
	delete(b.peers, p.id)
	back := make([]job.Job, 0, len(p.inflight)+len(b.queue))
	for _, j := range p.inflight {
		back = append(back, j)
		b.states.set(j.ID, strategies.StatusQueued, "", "re-queued: worker "+p.id+" went silent")
	}
	b.m.requeued.Add(float64(len(p.inflight)))
	b.queue = append(back, b.queue...)
	b.signal()
}

// State reports what the web side knows: queued here, sent to a worker, or
// acked.
func (b *broker) State(_ context.Context, id string) (strategies.JobState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.states.Get(id)
	if !ok {
		return strategies.JobState{}, fmt.Errorf("%w: %s (the zmq web side remembers the last %d jobs, and nothing across its own restart)", strategies.ErrUnknownJob, id, b.cfg.Recent)
	}
	st.Strategy = "pubsub"
	return st, nil
}

// counts is the gauges' view, under the lock.
func (b *broker) counts() (queued, inflight, workers int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.peers {
		inflight += len(p.inflight)
	}
	return len(b.queue), inflight, len(b.peers)
}

// Close stops the goroutines and the socket. Queued and unacked jobs are
// dropped, as a crash would drop them; the count is logged.
func (b *broker) Close(context.Context) error {
	b.once.Do(func() {
		close(b.quit)
		queued, inflight, _ := b.counts()
		if queued+inflight > 0 {
			b.log.Warn("closing with jobs not acked by any worker: they are lost", "queued", queued, "unacked", inflight)
		}
		_ = b.sock.Close()
		b.wg.Wait()
	})
	return nil
}
