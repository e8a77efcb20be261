package resque

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stats is what the talk asked to see of a queue: how long, how old, how
// much in flight, failed and retried, and who is working.
type Stats struct {
	Queue      string        `json:"queue"`
	Namespace  string        `json:"namespace,omitempty"` // the shard's, in ShardStats
	Length     int64         `json:"length"`
	OldestWait time.Duration `json:"oldest_wait_ns"`
	Inflight   int64         `json:"inflight"`
	Delayed    int64         `json:"delayed"` // jobs in the delayed set
	Failed     int64         `json:"failed"`
	Processed  int64         `json:"processed"`
	FailedStat int64         `json:"failed_total"`
	Retries    int64         `json:"retries"`
	Reclaimed  int64         `json:"reclaimed"`
	Workers    []WorkerState `json:"workers"`
}

// WorkerState is one holder of an inflight list.
type WorkerState struct {
	Name      string `json:"name"`
	Alive     bool   `json:"alive"` // its ping key exists
	Inflight  int64  `json:"inflight"`
	Processed int64  `json:"processed"`
}

// Stats reads the numbers for queue. It costs a handful of round trips.
func (c *Client) Stats(ctx context.Context, queue string) (Stats, error) {
	s := Stats{Queue: queue}
	p := c.rdb.Pipeline()
	llen := p.LLen(ctx, c.keys.Queue(queue))
	head := p.LIndex(ctx, c.keys.Queue(queue), 0)
	failed := p.LLen(ctx, c.keys.Failed())
	stats := p.MGet(ctx, c.keys.Stat("processed"), c.keys.Stat("failed"), c.keys.Retries(), c.keys.Reclaimed())
	sched := p.ZRange(ctx, c.keys.Schedule(), 0, 999)
	holders := p.SMembers(ctx, c.keys.Holders())
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return s, fmt.Errorf("queue stats: %w", err)
	}
	s.Length, s.Failed = llen.Val(), failed.Val()
	if raw := head.Val(); raw != "" {
		s.OldestWait = waitOf(raw)
	}
	vals := stats.Val()
	for i, dst := range []*int64{&s.Processed, &s.FailedStat, &s.Retries, &s.Reclaimed} {
		if str, ok := vals[i].(string); ok {
			*dst, _ = strconv.ParseInt(str, 10, 64)
		}
	}
	p = c.rdb.Pipeline()
	var delayed []*redis.IntCmd
	for _, ts := range sched.Val() {
		n, _ := strconv.ParseInt(ts, 10, 64)
		delayed = append(delayed, p.LLen(ctx, c.keys.Delayed(n)))
	}
	names := holders.Val()
	sort.Strings(names)
	type wcmds struct {
		ping      *redis.IntCmd
		inflight  *redis.IntCmd
		processed *redis.StringCmd
	}
	var ws []wcmds
	for _, n := range names {
		ws = append(ws, wcmds{p.Exists(ctx, c.keys.Ping(n)), p.LLen(ctx, c.keys.Inflight(n)), p.Get(ctx, c.keys.WorkerStat("processed", n))})
	}
	if len(delayed)+len(ws) > 0 {
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return s, fmt.Errorf("queue stats: %w", err)
		}
	}
	for _, d := range delayed {
		s.Delayed += d.Val()
	}
	for i, n := range names {
		w := WorkerState{Name: n, Alive: ws[i].ping.Val() == 1, Inflight: ws[i].inflight.Val()}
		w.Processed, _ = strconv.ParseInt(ws[i].processed.Val(), 10, 64)
		s.Inflight += w.Inflight
		s.Workers = append(s.Workers, w)
	}
	return s, nil
}

// waitOf reads args[0].accepted from a payload: how long the job has been
// waiting. Foreign jobs carry no such field and report 0.
func waitOf(raw string) time.Duration {
	var p struct {
		Args []struct {
			Accepted time.Time `json:"accepted"`
		} `json:"args"`
	}
	if json.Unmarshal([]byte(raw), &p) != nil || len(p.Args) == 0 || p.Args[0].Accepted.IsZero() {
		return 0
	}
	return time.Since(p.Args[0].Accepted)
}

// JobStatus is a job's status hash.
type JobStatus struct {
	Status   string
	Attempts int
	Error    string
	Worker   string
	Updated  time.Time
	RunAt    time.Time
}

// ErrNoSuchJob: no status hash for the id (never enqueued here, or expired).
var ErrNoSuchJob = errors.New("no such job")

// Status reads job id's status hash.
func (c *Client) Status(ctx context.Context, id string) (JobStatus, error) {
	m, err := c.rdb.HGetAll(ctx, c.keys.Job(id)).Result()
	if err != nil {
		return JobStatus{}, fmt.Errorf("job %s status: %w", id, err)
	}
	if len(m) == 0 {
		return JobStatus{}, ErrNoSuchJob
	}
	st := JobStatus{Status: m["status"], Error: m["error"], Worker: m["worker"]}
	st.Attempts, _ = strconv.Atoi(m["attempts"])
	st.Updated = msTime(m["updated"])
	st.RunAt = msTime(m["run_at"])
	return st, nil
}

func msTime(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}
