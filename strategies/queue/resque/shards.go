package resque

import (
	"context"
	"hash/fnv"
	"strings"
	"time"

	"github.com/offload/offload/internal/hashslot"
)

// One logical queue can be spread over several shards. Each shard is a
// complete Resque namespace whose name is a {hash tag}, so every key of a
// shard — queue, inflight lists, delayed set, status hashes — sits in one
// hash slot and every script and MULTI stays slot-safe. The tags are
// chosen by hashslot.Spread to hash into different thirds (for three
// shards) of the slot space, which `redis-cli --cluster create` gives to
// different masters: the shards' traffic lands on different machines.
//
// A job lives in one shard from enqueue to ack, picked by a hash of its id
// (so GET /jobs/{id} knows where to look without an index); workers claim
// from every shard, starting at a different one each round (consumer_run.go).
//
// With one shard (the default) the namespace is used as given, which keeps
// the layout exactly Resque's: node-resque and Ruby resque interoperate.
// With N shards each shard is a Resque namespace of its own ({resque-3}
// say): a node-resque client pointed at that namespace interoperates with
// that shard only.

// ShardNamespaces are the namespaces of n shards of ns (ns itself for 1).
func ShardNamespaces(ns string, n int) []string {
	if ns == "" {
		ns = DefaultNamespace
	}
	if n <= 1 {
		return []string{ns}
	}
	base := strings.NewReplacer("{", "", "}", "").Replace(strings.TrimSuffix(ns, ":"))
	tags := hashslot.Spread(base, n)
	out := make([]string, n)
	for i, t := range tags {
		out[i] = "{" + t + "}"
	}
	return out
}

func shardsOf(root *Client, ns string, n int) []*Client {
	names := ShardNamespaces(ns, n)
	if len(names) == 1 {
		return []*Client{root}
	}
	out := make([]*Client, len(names))
	for i, name := range names {
		out[i] = &Client{rdb: root.rdb, keys: NewKeys(name), jobTTL: root.jobTTL, index: i}
	}
	for _, s := range out {
		s.shards = out
	}
	return out
}

// Shards are the clients of every shard, sharing this client's connections
// (just this client when the queue has one shard).
func (c *Client) Shards() []*Client {
	if len(c.shards) == 0 {
		return []*Client{c}
	}
	return c.shards
}

// Index is this shard's place in Shards.
func (c *Client) Index() int { return c.index }

// ShardFor is the shard job id is stored in.
func (c *Client) ShardFor(id string) *Client {
	s := c.Shards()
	if len(s) == 1 {
		return s[0]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return s[h.Sum32()%uint32(len(s))]
}

// shardPause is how long a shard whose master failed a command is passed
// over for new jobs. A failover takes the master away for a second or two;
// without the pause every enqueue hashed to it would hold a web thread for
// the whole command timeout (and a Node-style loop has four), stalling the
// jobs bound for the healthy shards behind them. After the pause one job
// tries the shard again, so a shard that is back takes its share at once.
const shardPause = time.Second

// Place stores one job with store: in id's shard, or, while that shard is
// paused, in the next shard that is not. When store fails on a shard, the
// shard is paused and the job tries the next one, once: the queue is one
// logical queue, so any shard will do, and workers claim from all of them.
// The first try gets half of ctx's time, so that a master that does not
// answer (a client retrying a dead node's slots until its deadline) leaves
// the second try time to succeed. A store that failed after its write
// reached Redis may leave the job in both shards; the queue promises at
// least once, and the alternative is a 503 for a job a healthy master
// could have taken.
func (c *Client) Place(ctx context.Context, id string, store func(context.Context, *Client) error) error {
	shards := c.Shards()
	if len(shards) == 1 {
		return store(ctx, shards[0])
	}
	// The shards in order from id's own, paused ones left out; when all
	// are paused, the last of them is tried anyway.
	first := c.ShardFor(id).index
	now := time.Now().UnixNano()
	var picks []*Client
	for i := range shards {
		if s := shards[(first+i)%len(shards)]; s.pausedUntil.Load() <= now {
			picks = append(picks, s)
		}
	}
	if len(picks) == 0 {
		picks = []*Client{shards[(first+len(shards)-1)%len(shards)]}
	}
	var err error
	for i, s := range picks[:min(2, len(picks))] {
		err = storeWithin(ctx, i == 0, s, store)
		if err == nil {
			return nil
		}
		s.pausedUntil.Store(time.Now().Add(shardPause).UnixNano())
		if ctx.Err() != nil {
			break
		}
	}
	return err
}

// storeWithin runs store on s, within half of ctx's remaining time when
// half is set (and ctx has a deadline).
func storeWithin(ctx context.Context, half bool, s *Client, store func(context.Context, *Client) error) error {
	if deadline, ok := ctx.Deadline(); ok && half {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(deadline)/2)
		defer cancel()
	}
	return store(ctx, s)
}

// Find reads job id's status from its shard, or from the others when it is
// not there or its master does not answer: Place may have stored it in
// another one. When no shard has it, the answer is its own shard's.
func (c *Client) Find(ctx context.Context, id string) (JobStatus, error) {
	home := c.ShardFor(id)
	st, err := home.Status(ctx, id)
	if err == nil {
		return st, nil
	}
	for _, s := range c.Shards() {
		if s == home {
			continue
		}
		if other, oerr := s.Status(ctx, id); oerr == nil {
			return other, nil
		}
	}
	return st, err
}

// ShardStats reads Stats for queue in every shard, in shard order.
func (c *Client) ShardStats(ctx context.Context, queue string) ([]Stats, error) {
	var out []Stats
	for _, s := range c.Shards() {
		st, err := s.Stats(ctx, queue)
		if err != nil {
			return nil, err
		}
		st.Namespace = strings.TrimSuffix(s.keys.Prefix(), ":")
		out = append(out, st)
	}
	return out, nil
}

// Sum adds up per-shard stats into one queue's: lengths and counters add,
// the oldest wait is the largest, workers are listed per shard.
func Sum(shards []Stats) Stats {
	if len(shards) == 1 {
		return shards[0]
	}
	var t Stats
	for _, s := range shards {
		t.Queue = s.Queue
		t.Length += s.Length
		t.OldestWait = max(t.OldestWait, s.OldestWait)
		t.Inflight += s.Inflight
		t.Delayed += s.Delayed
		t.Failed += s.Failed
		t.Processed += s.Processed
		t.FailedStat += s.FailedStat
		t.Retries += s.Retries
		t.Reclaimed += s.Reclaimed
	}
	// A worker claims from every shard, so it is listed once per shard:
	// merge it into one row.
	byName := map[string]int{}
	for _, s := range shards {
		for _, w := range s.Workers {
			i, ok := byName[w.Name]
			if !ok {
				byName[w.Name] = len(t.Workers)
				t.Workers = append(t.Workers, w)
				continue
			}
			t.Workers[i].Alive = t.Workers[i].Alive || w.Alive
			t.Workers[i].Inflight += w.Inflight
			t.Workers[i].Processed += w.Processed
		}
	}
	return t
}
