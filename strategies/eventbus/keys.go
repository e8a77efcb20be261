package eventbus

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Prefix starts every key the event bus writes, so a shared Redis can hold
// other things beside it.
const Prefix = "offload:eventbus"

// Keys names every Redis key in one place. Each partition is its own
// stream key, so Redis Cluster spreads the partitions over its slots (the
// talk's one list per time window gained nothing from a cluster).
type Keys struct{ Partitions int }

// Stream is partition p's event log.
func (k Keys) Stream(p int) string { return fmt.Sprintf("%s:events:%d", Prefix, p) }

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
func (k Keys) StreamFor(jobID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(jobID))
	return k.Stream(int(h.Sum32() % uint32(k.partitions())))
}

func (k Keys) partitions() int { return max(k.Partitions, 1) }

// Job is the small index from a job id to its event (stream and entry id),
// for GET /jobs/{id}. It expires after IndexTTL so it does not grow forever.
func Job(id string) string { return Prefix + ":job:" + id }

// DeadLetters is the stream of events a group gave up on, with the reason.
func DeadLetters(group string) string { return Prefix + ":dead:" + group }

// Errors holds a group's last handler error per entry id, so a dead letter
// can say why it died.
func Errors(group string) string { return Prefix + ":errors:" + group }

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
