package workshop

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/workshop/ex03"
)

// Yield is exercise 3's code under check.
type Yield struct {
	Sliced func(l ex03.Loop, total, slice time.Duration, done func())
	Pool   func(rt eventloop.Runtime, total time.Duration, done func())
}

// ParticipantYield is the participant's code in workshop/ex03.
func ParticipantYield() Yield { return Yield{Sliced: ex03.BurnSliced, Pool: ex03.BurnOnPool} }

const (
	yieldJob   = 300 * time.Millisecond // one cpu job, as in the cpu scenario but shorter
	yieldSlice = 5 * time.Millisecond
	yieldLate  = yieldJob / 3 // a probe later than this waited for most of the job
	yieldJobs  = 4            // for throughput: this many jobs at once
	yieldEach  = 100 * time.Millisecond
)

// countingLoop is the real loop, counting the turns a job asks for and
// how long its callbacks hold the loop.
type countingLoop struct {
	l      *eventloop.Loop
	posts  atomic.Int64
	onLoop atomic.Int64 // ns
}

func (c *countingLoop) Post(fn func()) {
	c.posts.Add(1)
	c.l.Post(func() {
		t0 := time.Now()
		fn()
		c.onLoop.Add(int64(time.Since(t0)))
	})
}

// loopRun is what one measurement saw.
type loopRun struct {
	worstProbe time.Duration // the latest a probe posted every 2 ms ran
	took       time.Duration // until the last done
	firstCall  time.Duration // how long the first call held the loop
	posts      int64
	onLoop     time.Duration
	poolRuns   int64 // work the loop's thread pool started
}

// measure starts n jobs on a fresh node loop at once (each through start,
// called on the loop) while a probe is posted every 2 ms, and waits for
// every done.
func measure(ctx context.Context, n int, start func(c *countingLoop, done func())) (loopRun, error) {
	l := eventloop.NewLoop(4)
	defer l.Close()
	c := &countingLoop{l: l}
	var (
		mu    sync.Mutex
		worst time.Duration
	)
	stop := make(chan struct{})
	var probes sync.WaitGroup
	probes.Add(1)
	go func() {
		defer probes.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				t0 := time.Now()
				l.Post(func() {
					mu.Lock()
					worst = max(worst, time.Since(t0))
					mu.Unlock()
				})
			}
		}
	}()
	var left atomic.Int64
	left.Store(int64(n))
	all := make(chan struct{})
	var run loopRun
	called := make(chan struct{}) // the first calls returned: run.firstCall is set
	t0 := time.Now()
	l.Post(func() {
		defer close(called)
		for range n {
			s := time.Now()
			start(c, func() {
				if left.Add(-1) == 0 {
					close(all)
				}
			})
			run.firstCall = max(run.firstCall, time.Since(s))
		}
	})
	var err error
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		err = hintf("call done once the last slice is burnt (and, for the pool, in rt.Pool's cb)", "done was not called for %d of %d jobs within 10 s", left.Load(), n)
	case <-ctx.Done():
		err = ctx.Err()
	}
	run.took = time.Since(t0)
	<-called
	close(stop)
	probes.Wait()
	mu.Lock()
	run.worstProbe = worst
	mu.Unlock()
	run.posts, run.onLoop = c.posts.Load(), time.Duration(c.onLoop.Load())+run.firstCall
	run.poolRuns = l.PoolRuns()
	return run, err
}

// CheckYield is exercise 3: with either function a probe never waits for
// most of a 300 ms job; slicing keeps the work on the loop, the pool takes
// it off; and it reports the throughput of each.
func CheckYield(ctx context.Context, o Options, y Yield) (string, error) {
	o = o.withDefaults()
	sliced, err := measure(ctx, 1, func(c *countingLoop, done func()) { y.Sliced(c, yieldJob, yieldSlice, done) })
	if err != nil {
		return "", fmt.Errorf("BurnSliced: %w", err)
	}
	fmt.Fprintf(o.Log, "BurnSliced: worst probe %s, %d turns, %s on the loop\n", ms(sliced.worstProbe), sliced.posts, ms(sliced.onLoop))
	if sliced.worstProbe > yieldLate {
		return "", hintf("in workshop/ex03/yield.go burn one slice, then l.Post the rest",
			"BurnSliced: a probe waited %s behind a %s job; the loop never got a turn in between", ms(sliced.worstProbe), ms(yieldJob))
	}
	if want := int64(yieldJob / yieldSlice / 2); sliced.posts < want {
		return "", hintf("give the loop back once per slice with l.Post, and burn on the loop",
			"BurnSliced gave the loop back %d times; %s in %s slices needs about %d turns", sliced.posts, ms(yieldJob), ms(yieldSlice), yieldJob/yieldSlice)
	}
	if sliced.onLoop < yieldJob*7/10 {
		return "", hintf("burn each slice inside the posted function; moving the work elsewhere is BurnOnPool's job",
			"BurnSliced ran only %s of the %s job on the loop: slicing keeps the work on the loop and takes turns", ms(sliced.onLoop), ms(yieldJob))
	}
	pool, err := measure(ctx, 1, func(c *countingLoop, done func()) { y.Pool(c.l, yieldJob, done) })
	if err != nil {
		return "", fmt.Errorf("BurnOnPool: %w", err)
	}
	fmt.Fprintf(o.Log, "BurnOnPool: worst probe %s, first call held the loop %s\n", ms(pool.worstProbe), ms(pool.firstCall))
	if pool.firstCall > yieldLate || pool.worstProbe > yieldLate {
		return "", hintf("in workshop/ex03/yield.go burn inside rt.Pool(fn, cb) and call done in cb",
			"BurnOnPool held the loop for %s (worst probe %s): the work still runs on the loop", ms(pool.firstCall), ms(pool.worstProbe))
	}
	if pool.poolRuns == 0 {
		return "", hintf("burn inside rt.Pool, not rt.IO: rt.IO is the path for network calls, and CPU handed off on purpose goes to the thread pool, as Node's crypto and zlib do",
			"BurnOnPool took the work off the loop but never through the thread pool")
	}
	tS, err := measure(ctx, yieldJobs, func(c *countingLoop, done func()) { y.Sliced(c, yieldEach, yieldSlice, done) })
	if err != nil {
		return "", fmt.Errorf("BurnSliced, %d jobs: %w", yieldJobs, err)
	}
	tP, err := measure(ctx, yieldJobs, func(c *countingLoop, done func()) { y.Pool(c.l, yieldEach, done) })
	if err != nil {
		return "", fmt.Errorf("BurnOnPool, %d jobs: %w", yieldJobs, err)
	}
	rate := func(r loopRun) float64 { return yieldJobs / r.took.Seconds() }
	return fmt.Sprintf("one %s cpu job, a probe posted every 2 ms:\n"+
		"  sliced (%s slices): worst probe %s\n"+
		"  pool:               worst probe %s\n"+
		"%d jobs of %s at once:\n"+
		"  sliced: all done in %s (%.1f jobs/s): one loop, one core, slices interleaved\n"+
		"  pool:   all done in %s (%.1f jobs/s): %d pool goroutines on every core\n"+
		"Slicing keeps the loop responsive but not faster; the pool adds cores but only as many jobs as it has threads run at once.",
		ms(yieldJob), ms(yieldSlice), ms(sliced.worstProbe), ms(pool.worstProbe),
		yieldJobs, ms(yieldEach), ms(tS.took), rate(tS), ms(tP.took), rate(tP), 4), nil
}
