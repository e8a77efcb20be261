package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/offload/offload/internal/memqueue"
	"github.com/offload/offload/internal/workerid"
)

// heartbeat is how often a worker says it is alive; the web side declares
// it dead after missing several (BrokerConfig.Expiry).
const heartbeat = 250 * time.Millisecond

// dealer connects to the web side's ROUTER and works until ctx ends. Jobs
// go onto q; finished ones come back on acks and are acknowledged.
func dealer(ctx context.Context, endpoint string, q *memqueue.Queue, credit int, acks <-chan memqueue.State, log *slog.Logger) error {
	// A fresh identity per process: the web side must never mistake a
	// restarted worker for the one whose jobs it is about to re-queue.
	id := workerid.Unique()
	sock := zmq4.NewDealer(ctx, zmq4.WithID(zmq4.SocketIdentity(id)),
		zmq4.WithAutomaticReconnect(true), zmq4.WithDialerMaxRetries(-1),
		zmq4.WithDialerRetry(250*time.Millisecond), zmq4.WithTimeout(5*time.Second))
	defer sock.Close()
	if err := sock.Dial(endpoint); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("pubsub worker: connect %s: %w", endpoint, err)
	}
	log.Info("connected", "endpoint", endpoint, "identity", id, "credit", credit)

	// zmq4's Recv ignores timeouts; only Close unblocks it, so it gets its
	// own goroutine and the deferred Close ends it.
	recvDone := make(chan error, 1)
	go func() { recvDone <- receiveJobs(sock, q, log) }()

	send := func(w wire) {
		// A nil error does not mean delivered (zmq4 drops while
		// disconnected); a lost ack means a duplicate later, not a loss.
		if err := sock.Send(zmq4.NewMsg(w.encode())); err != nil && ctx.Err() == nil {
			log.Warn("send to web side", "type", w.Type, "err", err)
		}
	}
	send(wire{Type: "hb", Credit: credit})
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvDone:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-t.C:
			send(wire{Type: "hb", Credit: credit})
		case s := <-acks:
			send(wire{Type: "ack", ID: s.ID, OK: s.Status == memqueue.StatusDone, Error: s.Error})
		}
	}
}

func receiveJobs(sock zmq4.Socket, q *memqueue.Queue, log *slog.Logger) error {
	for {
		msg, err := sock.Recv()
		if errors.Is(err, io.EOF) {
			// Once per lost connection; the socket redials by itself.
			log.Warn("connection to web side lost; reconnecting")
			continue
		}
		if err != nil {
			return fmt.Errorf("pubsub worker: receive: %w", err)
		}
		if len(msg.Frames) == 0 {
			continue
		}
		var w wire
		if err := json.Unmarshal(msg.Frames[len(msg.Frames)-1], &w); err != nil || w.Type != "job" || w.Job == nil {
			log.Warn("dropping unexpected message", "err", err, "type", w.Type)
			continue
		}
		raw, _ := json.Marshal(w.Job)
		pushPayload(q, raw, log)
	}
}
