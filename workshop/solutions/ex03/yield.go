// Package ex03 is the reference solution of exercise 3. Spoilers: try
// workshop/ex03 first. The workshop tests run the check against it.
package ex03

import (
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/workshop/ex03"
)

// BurnSliced burns one slice per turn of the loop.
func BurnSliced(l ex03.Loop, total, slice time.Duration, done func()) {
	if total <= 0 {
		done()
		return
	}
	d := min(slice, total)
	job.Burn(d)
	// Posting the rest puts it behind every callback queued meanwhile:
	// other clients and the lag probe get their turn first.
	l.Post(func() { BurnSliced(l, total-d, slice, done) })
}

// BurnOnPool burns on a pool goroutine; the loop only runs the callback.
func BurnOnPool(rt eventloop.Runtime, total time.Duration, done func()) {
	rt.Pool(func() error {
		job.Burn(total)
		return nil
	}, func(error) { done() })
}
