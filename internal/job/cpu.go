package job

import (
	"sync/atomic"
	"time"
)

// sink keeps the compiler from removing the burn loop.
var sink atomic.Uint64

// Burn spins the calling goroutine for d of wall time. It stands in for real
// CPU work (template rendering, image resizing): it never yields, so under
// the node loop it blocks every other client, exactly as the talk's
// blockingSleep does.
func Burn(d time.Duration) {
	deadline := time.Now().Add(d)
	x := uint64(d)
	for time.Now().Before(deadline) {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink.Add(x)
}

// Cost is the CPU a job asks for.
func (j Job) Cost() time.Duration { return time.Duration(j.CostMS) * time.Millisecond }
