package resque

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A live worker can hold a job in its inflight list without knowing it: a
// claim that Redis performed (and, with appendfsync always, persisted) but
// whose reply was lost when Redis died, or that the client retried after
// such a loss. Reclaim only rescues dead workers, so without a check such a
// job would sit in a live worker's list for as long as the worker lives:
// lost, in all but name. The consumer therefore keeps the multiset of
// payloads it put there (ownedSet) and, whenever a call's outcome is unknown
// and every PingTTL, puts back whatever its list holds beyond that.

// ownedSet is the multiset of payloads this consumer placed in its inflight
// list and has not yet seen removed by a successful ack, retry or failure.
type ownedSet struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *ownedSet) add(jobs ...Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]int)
	}
	for _, j := range jobs {
		s.m[j.Raw]++
	}
}

func (s *ownedSet) remove(jobs ...Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range jobs {
		if s.m[j.Raw] <= 1 {
			delete(s.m, j.Raw)
		} else {
			s.m[j.Raw]--
		}
	}
}

func (s *ownedSet) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// requeueScript moves each payload given from the inflight list back to the
// head of the queue, if it is still in the list: an ack racing with the
// check removes it first, and then nothing is put back.
// KEYS[1] inflight, KEYS[2] queue; ARGV payloads.
const requeueScript = `
local n = 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
`

var requeue = redis.NewScript(requeueScript)

// RequeueOrphans puts back the jobs in w's inflight list beyond owned (the
// payloads w knows it holds). It must not run concurrently with w's claims,
// which add to the list before the worker learns of them.
func (c *Client) RequeueOrphans(ctx context.Context, w Worker, queue string, owned map[string]int) (int, error) {
	items, err := c.rdb.LRange(ctx, c.keys.Inflight(w.Name), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("read inflight list of %s: %w", w.Name, err)
	}
	var orphans []any
	for _, it := range items {
		if owned[it] > 0 {
			owned[it]--
			continue
		}
		orphans = append(orphans, it)
	}
	if len(orphans) == 0 {
		return 0, nil
	}
	n, err := requeue.Run(ctx, c.rdb, []string{c.keys.Inflight(w.Name), c.keys.Queue(queue)}, orphans...).Int()
	if err != nil {
		return 0, fmt.Errorf("requeue %d orphaned jobs of %s: %w", len(orphans), w.Name, err)
	}
	return n, nil
}
