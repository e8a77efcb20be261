package eventbus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/hashslot"
)

// Prefix starts every key the event bus writes, so a shared Redis can hold
// other things beside it.
const Prefix = "offload:eventbus"

// Keys names every Redis key in one place.
//
// The key scheme, slot-safe by design (Redis Cluster runs a multi-key
// command only when all its keys share a hash slot):
//
//	offload:eventbus:events:<p>:{<tag>}            partition p's stream
//	offload:eventbus:errors:<group>:<p>:{<tag>}    group's last handler error per entry of partition p
//	offload:eventbus:dead:<group>                  group's dead letters (one stream)
//	offload:eventbus:audit:<group>                 the audit handler's list
//	offload:eventbus:job:<id>:{<tag>}              GET /jobs/{id} index, in the job's partition's slot
//
// <tag> is hashslot.Spread("eb<N>", N)[p] for N partitions: N tags whose
// slots lie in N different equal parts of the slot space, which a cluster
// of N masters (or a divisor of N) serves from different masters. So with
// --partitions 3 on a 3-master cluster each master holds one partition,
// and a partition's error hash sits in its stream's slot, on the same
// master. The tags are a pure function of N, so the web side and every
// consumer agree on them without asking the cluster. No script or MULTI
// spans two keys; a partition's error hash and its jobs' index entries
// share the stream's tag anyway, so everything about an event lives on the
// master that holds it. XREADGROUP reads one partition per call.
type Keys struct{ Partitions int }

// Stream is partition p's event log.
func (k Keys) Stream(p int) string {
	return fmt.Sprintf("%s:events:%d:{%s}", Prefix, p, k.tag(p))
}

// Errors holds group's last handler error per entry id of partition p, so
// a dead letter can say why it died. Per partition because entry ids are
// per stream (two partitions can hand out the same id) and so that it
// shares its stream's slot.
func (k Keys) Errors(group string, p int) string {
	return fmt.Sprintf("%s:errors:%s:%d:{%s}", Prefix, group, p, k.tag(p))
}

// Streams lists every partition's stream.
func (k Keys) Streams() []string {
	out := make([]string, k.partitions())
	for p := range out {
		out[p] = k.Stream(p)
	}
	return out
}

// StreamFor is the stream a job's event goes to: a hash of its id, so a
// job id always lands in the same partition (and a status lookup by id
// could find it without an index if it had to).
func (k Keys) StreamFor(jobID string) string { return k.Stream(k.PartitionFor(jobID)) }

// PartitionFor is the partition a job's event goes to.
func (k Keys) PartitionFor(jobID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(jobID))
	return int(h.Sum32() % uint32(k.partitions()))
}

func (k Keys) partitions() int { return max(k.Partitions, 1) }

func (k Keys) tag(p int) string {
	n := k.partitions()
	if v, ok := tagCache.Load(n); ok {
		return v.([]string)[p]
	}
	tags := hashslot.Spread(fmt.Sprintf("eb%d", n), n)
	tagCache.Store(n, tags)
	return tags[p]
}

// tagCache keeps Spread's answer per partition count: it is pure, and
// every read and ack names a key.
var tagCache sync.Map

// Job is the small index from a job id to its event (stream and entry id),
// for GET /jobs/{id}. It expires after IndexTTL so it does not grow forever.
// It carries the tag of the job's partition: the index is written right
// after the XADD, and on the same master it cannot fail for a master the
// XADD just reached (nor hang a request on a master that is away while
// the event's own partition is fine).
func (k Keys) Job(id string) string {
	return fmt.Sprintf("%s:job:%s:{%s}", Prefix, id, k.tag(k.PartitionFor(id)))
}

// DeadLetters is the stream of events a group gave up on, with the reason.
func DeadLetters(group string) string { return Prefix + ":dead:" + group }

// AuditLog is the list the audit handler appends every event to.
func AuditLog(group string) string { return Prefix + ":audit:" + group }

// IndexTTL bounds how long GET /jobs/{id} can find a job.
const IndexTTL = 24 * time.Hour

// streamID is a parsed stream entry id "ms-seq".
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, error) {
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return streamID{}, fmt.Errorf("stream id %q: want MS or MS-SEQ", s)
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return streamID{}, fmt.Errorf("stream id %q: want MS or MS-SEQ", s)
		}
	}
	return streamID{ms, seq}, nil
}

func (id streamID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// before is the id just below id: what XGROUP SETID needs so that the next
// read (">", "after the last delivered") starts at id itself.
func (id streamID) before() streamID {
	switch {
	case id.seq > 0:
		return streamID{id.ms, id.seq - 1}
	case id.ms > 0:
		return streamID{id.ms - 1, ^uint64(0)}
	default:
		return streamID{}
	}
}

// compareIDs orders two entry ids; unparsable ids sort first.
func compareIDs(a, b string) int {
	x, errA := parseID(a)
	y, errB := parseID(b)
	switch {
	case errA != nil || errB != nil:
		return strings.Compare(a, b)
	case x.less(y):
		return -1
	case y.less(x):
		return 1
	}
	return 0
}

// ParseFrom turns a replay position into the first entry id to re-deliver:
// "0" (everything retained), an entry id "MS-SEQ", an RFC 3339 time, or a
// duration meaning that long ago ("90m").
func ParseFrom(s string, now time.Time) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty position: give 0, an entry id, an RFC 3339 time or a duration like 1h")
	}
	if id, err := parseID(s); err == nil {
		return id.String(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return streamID{ms: uint64(max(t.UnixMilli(), 0))}.String(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return streamID{ms: uint64(max(now.Add(-d).UnixMilli(), 0))}.String(), nil
	}
	return "", fmt.Errorf("position %q: give 0, an entry id (1700000000000-0), an RFC 3339 time or a duration like 1h", s)
}

// layoutKey holds the partition count the web side last started with. The
// stream names depend on that count, so an inspection command, or a
// consumer started with a different --partitions, could otherwise look at
// streams nobody writes and report an empty bus.
const layoutKey = Prefix + ":partitions"

// RecordPartitions stores n as the bus's partition count and returns the
// count recorded before it (0 when there was none).
func RecordPartitions(ctx context.Context, rdb redis.UniversalClient, n int) (int, error) {
	prev, err := rdb.SetArgs(ctx, layoutKey, n, redis.SetArgs{Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("record partition count: %w", err)
	}
	p, err := strconv.Atoi(prev)
	if err != nil {
		return 0, fmt.Errorf("record partition count: %s holds %q, not a count", layoutKey, prev)
	}
	return p, nil
}

// RecordedPartitions is the partition count the web side last recorded, or
// 0 when no web side has run against this Redis.
func RecordedPartitions(ctx context.Context, rdb redis.UniversalClient) (int, error) {
	v, err := rdb.Get(ctx, layoutKey).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read partition count %s: %w", layoutKey, err)
	}
	return v, nil
}
