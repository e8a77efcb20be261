package harness_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/harness"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/netcut"
	"github.com/offload/offload/results"
)

// TestPartitionQueue runs the partition scenario for the queue on one
// Redis: the web process and its worker lose Redis for 3s, and the
// test checks that the cut happened (no job is acknowledged while it
// lasts, some requests fail), that nothing acknowledged was lost, and
// that the namespace, its veth and every process are gone afterwards.
func TestPartitionQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	itest.NeedNetns(t)
	itest.NeedRedis(t)
	bin := itest.Binary(t)
	sink := itest.Sink(t, mailsink.Config{})
	timing := harness.Quick()
	timing.FaultMeasure, timing.FaultAt, timing.FaultFor = 4*time.Second, 300*time.Millisecond, 3*time.Second
	// Few enough that the requests held during the cut stay under the
	// sender's connection cap.
	timing.Rate = 50
	b := &harness.Bench{Exe: bin, Out: t.TempDir(), Sink: sink, Timing: timing}
	plans, err := b.Plans([]string{"queue"}, []string{harness.Partition}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[0].NA != "" || plans[1].Variant.Name != "cluster" {
		t.Fatalf("plans %+v: want queue on one Redis, then on the cluster (--quick keeps its partition)", plans)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f, err := b.Run(ctx, results.Env{}, plans[:1])
	if err != nil {
		t.Fatal(err)
	}
	r := f.Runs[0]
	if r.Invalid != "" {
		t.Logf("run marked invalid (%s); its counts are exact", r.Invalid)
	}
	t.Logf("sent %d, status %v, timeouts %d, accepted %d, delivered %d, lost %d, duplicates %d",
		r.Sent, r.Status, r.Timeouts, r.Accepted, r.Delivered, r.Lost, r.Duplicates)
	if len(r.Faults) != 1 {
		t.Fatalf("faults %+v, want one", r.Faults)
	}
	fl := r.Faults[0]
	t.Logf("fault: %+v", fl)
	if fl.Kind != harness.FaultPartition || !fl.Injected || fl.Target != "web+worker-1" ||
		!strings.Contains(fl.Detail, "blackhole route to redis") || !strings.Contains(fl.Detail, "for "+timing.FaultFor.String()) {
		t.Errorf("fault record %+v: want the partition of web+worker-1, injected, saying what was cut and for how long", fl)
	}
	if got := fl.EndS - fl.StartS; got < timing.FaultFor.Seconds() {
		t.Errorf("cut lasted %.2fs, want the %v asked for", got, timing.FaultFor)
	}
	// While the cut lasts the queue cannot store a job: a 202 then would
	// be a lie. Answers from just before the cut are recorded as late as
	// the generator runs behind its schedule.
	margin := 0.1 + r.SendDelayMS.Max/1000
	for _, p := range r.Timeseries {
		if p.T >= fl.StartS+margin && p.T+0.1 <= fl.EndS && p.Accepted > 0 {
			t.Errorf("%d jobs acknowledged at %.1fs, during the cut (%.2fs to %.2fs)", p.Accepted, p.T, fl.StartS, fl.EndS)
		}
	}
	// A cut longer than the web's 2s bound on an enqueue fails the
	// enqueues under way: those requests are answered 503 (or time out).
	if r.Rejected+r.TransportErrors == 0 {
		t.Errorf("no request failed or timed out during a %v cut: status %v", timing.FaultFor, r.Status)
	}
	if r.Accepted == 0 || r.Lost != 0 {
		t.Errorf("accepted %d, lost %d: want jobs accepted and none lost", r.Accepted, r.Lost)
	}
	if o := b.Orphans(); len(o) > 0 {
		t.Errorf("left behind: %v", o)
	}
	assertNoNamespaces(t)
}

// assertNoNamespaces checks that this process left no partition
// namespace or host link.
func assertNoNamespaces(t *testing.T) {
	t.Helper()
	names, err := netcut.Namespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mine := fmt.Sprintf("%s%d-", netcut.Prefix, os.Getpid())
	for _, n := range names {
		if strings.HasPrefix(n, mine) {
			t.Errorf("namespace %s left behind", n)
		}
	}
	links, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Name, fmt.Sprintf("of%dh", os.Getpid())) {
			t.Errorf("link %s left behind", l.Name)
		}
	}
}
