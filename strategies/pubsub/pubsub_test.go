package pubsub_test

import (
	"testing"
	"time"

	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/pubsub"
	"github.com/offload/offload/strategies/strategytest"
)

func TestConformanceRedisOneSubscriber(t *testing.T) {
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		return startRedisFamily(t, 1, mailsink.Config{}).setup()
	})
}

func TestConformanceZMQOneWorker(t *testing.T) {
	strategytest.Exercise(t, func(t *testing.T) strategytest.Setup {
		return startZMQFamily(t, 1, mailsink.Config{}).setup()
	})
}

// Pub/sub fans out: two subscribers, every job sent twice.
func TestRedisTwoSubscribersDeliverEveryJobTwice(t *testing.T) {
	f := startRedisFamily(t, 2, mailsink.Config{})
	ids := strategytest.PostN(t, f.URL, 50, "fan-out")
	itest.Eventually(t, 30*time.Second, "100 mails", func() bool { return f.Sink.Stats().Received == 100 })
	for _, id := range ids {
		if d, _ := f.Sink.Delivery(id); d.Count != 2 {
			t.Fatalf("job %s delivered %d times, want 2", id, d.Count)
		}
	}
	if got := strategytest.Metric(f.URL, "offload_pubsub_receivers"); got != 2 {
		t.Fatalf("offload_pubsub_receivers = %v, want 2", got)
	}
	if got := strategytest.Metric(f.URL, "offload_pubsub_copies_total"); got != 100 {
		t.Fatalf("offload_pubsub_copies_total = %v, want 100", got)
	}
}

// Nobody listening: accepted with 202, gone, and the source says so.
func TestRedisNoSubscriberLosesEveryJob(t *testing.T) {
	f := startRedisFamily(t, 0, mailsink.Config{})
	r := strategytest.Post(t, f.URL, strategytest.MailJSON("into the void"), "")
	if r.Code != 202 || r.Body["receivers"] != float64(0) {
		t.Fatalf("answer %d %v, want 202 with receivers 0", r.Code, r.Body)
	}
	strategytest.PostN(t, f.URL, 19, "void")
	if got := strategytest.Metric(f.URL, "offload_pubsub_receivers"); got != 0 {
		t.Fatalf("offload_pubsub_receivers = %v, want 0", got)
	}
	if got := strategytest.Metric(f.URL, "offload_pubsub_unheard_total"); got != 20 {
		t.Fatalf("offload_pubsub_unheard_total = %v, want 20", got)
	}
	// A subscriber that arrives later hears nothing of the past.
	f.startWorker(t)
	var later []string
	itest.Eventually(t, 30*time.Second, "a job sent after the subscriber came to arrive", func() bool {
		later = append(later, strategytest.PostN(t, f.URL, 1, "after")...)
		_, ok := f.Sink.Delivery(later[len(later)-1])
		return ok
	})
	if got := f.Sink.Stats().Unique; got > len(later) {
		t.Fatalf("sink saw %d jobs, want at most the %d sent after the subscriber came", got, len(later))
	}
	if _, ok := f.Sink.Delivery(r.Body["id"].(string)); ok {
		t.Fatal("a job published to nobody arrived")
	}
}

// ROUTER/DEALER with credit: each job to exactly one worker.
func TestZMQTwoWorkersShareTheLoad(t *testing.T) {
	f := startZMQFamily(t, 2, mailsink.Config{Delay: 2 * time.Millisecond})
	ids := strategytest.PostN(t, f.URL, 200, "share")
	strategytest.WaitDelivered(t, f.Sink, ids, 30*time.Second)
	if once, dup, missing := counts(f.Sink, ids); once != 200 {
		t.Fatalf("once %d, duplicated %d, missing %d; want all 200 once", once, dup, missing)
	}
	// A worker acks a job after its mail is sent, so the last acks may
	// still be on their way when the sink has every mail.
	var acked float64
	if !itest.Poll(10*time.Second, func() bool {
		acked = strategytest.Metric(f.URL, "offload_pubsub_zmq_acked_total")
		return acked >= 200
	}) || acked != 200 {
		t.Fatalf("acked %v, want 200", acked)
	}
}

// With no worker connected, jobs wait at the web side and arrive once a
// worker comes back.
func TestZMQJobsWaitForAWorker(t *testing.T) {
	f := startZMQFamily(t, 1, mailsink.Config{})
	if err := f.workers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	f.waitWorkers(t, 0)
	ids := strategytest.PostN(t, f.URL, 30, "waiting")
	if got := strategytest.Metric(f.URL, "offload_pubsub_zmq_queue_length"); got != 30 {
		t.Fatalf("queue length %v, want 30 waiting at the web side", got)
	}
	if f.Sink.Stats().Received != 0 {
		t.Fatal("mail arrived with no worker up")
	}
	f.startWorker(t)
	strategytest.WaitDelivered(t, f.Sink, ids, 30*time.Second)
	if once, dup, missing := counts(f.Sink, ids); once != 30 {
		t.Fatalf("once %d, duplicated %d, missing %d; want all 30 once", once, dup, missing)
	}
}

// What a worker restart does, measured: the web side re-queues what the
// dead worker had not acked, so nothing is lost; a job done whose ack died
// with the worker arrives twice. The test asserts no loss and that
// duplicates stay within what the worker held (its credit).
func TestZMQWorkerKilledMidStream(t *testing.T) {
	const n, credit = 300, 10
	f := startZMQFamily(t, 1, mailsink.Config{Delay: 5 * time.Millisecond}, "--rate", "200", "--credit", "10")
	ids := strategytest.PostN(t, f.URL, n, "restart")
	itest.Eventually(t, 30*time.Second, "a third delivered", func() bool { return f.Sink.Stats().Received >= n/3 })
	if err := f.workers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	atKill := f.Sink.Stats().Received
	f.startWorker(t)
	strategytest.WaitDelivered(t, f.Sink, ids, 30*time.Second)
	once, dup, missing := counts(f.Sink, ids)
	requeued := strategytest.Metric(f.URL, "offload_pubsub_zmq_requeued_total")
	t.Logf("zmq worker SIGKILL after %d of %d delivered: %d once, %d duplicated, %d missing; %v re-queued by the web side",
		atKill, n, once, dup, missing, requeued)
	if missing != 0 || dup > credit || requeued < 1 || requeued > credit {
		t.Fatalf("once %d, duplicated %d, missing %d, re-queued %v: want none missing and at most %d duplicated/re-queued", once, dup, missing, requeued, credit)
	}
}

// The web side runs as a child process in the conformance suite, so Close
// twice is shown here, in process, for both transports.
func TestCloseTwice(t *testing.T) {
	r := itest.Redis(t)
	for _, cfg := range []strategies.Config{
		{RedisURL: r.URL()},
		{Transport: "zmq", ZMQEndpoint: "tcp://" + itest.FreeAddr(t)},
	} {
		s, err := pubsub.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		strategytest.CloseTwice(t, s)
	}
}
