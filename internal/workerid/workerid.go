// Package workerid names worker processes one way everywhere — in Redis
// (Resque's worker set, a stream consumer group), on the ZeroMQ wire and in
// logs — so one worker is recognisable across strategies and tools: host:pid,
// Resque's and node-resque's form.
package workerid

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var start = sync.OnceValue(func() int64 { return time.Now().UnixNano() })

// Host is the machine's name, "localhost" when the system cannot say.
func Host() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

// Name is this process's worker name: host:pid.
func Name() string { return fmt.Sprintf("%s:%d", Host(), os.Getpid()) }

// Unique is Name with the process's start time appended (host:pid:nanos),
// for peers that must never take a restarted worker that got the same pid
// for the one whose jobs they are about to re-queue.
func Unique() string { return fmt.Sprintf("%s:%d", Name(), start()) }
