// Package ex03 is exercise 3's skeleton (docs/workshop/03-yield-or-offload.md):
// two ways to keep a cpu job from blocking the node loop. Both functions
// are called as handler code, on the loop; each must call done on the loop
// once all of total has been burnt (job.Burn is the talk's blockingSleep).
//
// As handed out, both burn everything at once on the loop: every probe
// waits for the whole job. `make exercise N=3` says when they no longer do.
package ex03

import (
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
)

// Loop is the part of the node loop a sliced job needs; *eventloop.Loop
// has it. Post queues fn behind every callback already waiting.
type Loop interface {
	Post(fn func())
}

// BurnSliced partitions the work: it burns at most slice at a time and
// gives the loop back between slices, as the Node docs advise ("don't do
// too much work for any client in any single callback").
func BurnSliced(l Loop, total, slice time.Duration, done func()) {
	// TODO(exercise 3): burn min(slice, what is left), then l.Post a
	// function that does the next slice; call done after the last one.
	job.Burn(total)
	done()
}

// BurnOnPool offloads the work: it runs on one of the pool's goroutines
// (libuv's threadpool, rt.Pool: CPU handed off on purpose, as Node's
// worker pool takes crypto and zlib) and done runs back on the loop.
// rt.IO is the other path, for network calls: not for CPU.
func BurnOnPool(rt eventloop.Runtime, total time.Duration, done func()) {
	// TODO(exercise 3): burn inside rt.Pool's fn; call done in its cb.
	job.Burn(total)
	done()
}
