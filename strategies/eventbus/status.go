package eventbus

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/strategies"
)

// GroupState is what one handler (group) has done with one event.
type GroupState struct {
	Status   strategies.Status `json:"status"`
	Attempts int64             `json:"attempts,omitempty"`
	Consumer string            `json:"consumer,omitempty"`
	Error    string            `json:"error,omitempty"`
}

// State answers GET /jobs/{id} from the log itself: the index gives the
// event's position, and each group's cursor and pending list say whether it
// is still queued (beyond the cursor), running (pending: delivered, not
// acknowledged), failed (dead-lettered) or done (acknowledged).
func (b *Bus) State(ctx context.Context, id string) (strategies.JobState, error) {
	idx, err := b.rdb.HGetAll(ctx, b.keys.Job(id)).Result()
	if err != nil {
		return strategies.JobState{}, fmt.Errorf("%w: read job index: %v", strategies.ErrUnavailable, err)
	}
	stream, event := idx["stream"], idx["event"]
	if stream == "" || event == "" {
		return strategies.JobState{}, fmt.Errorf("%w: no event for job %s (never accepted, or its index expired after %v)", strategies.ErrUnknownJob, id, IndexTTL)
	}
	st := strategies.JobState{ID: id, Strategy: b.Name(), Extra: map[string]any{"stream": stream, "event": event}}
	entries, err := b.rdb.XRange(ctx, stream, event, event).Result()
	if err != nil {
		return st, fmt.Errorf("%w: read event: %v", strategies.ErrUnavailable, err)
	}
	if len(entries) == 0 {
		st.Status = strategies.StatusUnknown
		st.Error = "the event was trimmed from the stream by retention; its outcome is no longer known"
		return st, nil
	}
	groups, err := b.rdb.XInfoGroups(ctx, stream).Result()
	if err != nil && !isNoSuchKey(err) {
		return st, fmt.Errorf("%w: read groups: %v", strategies.ErrUnavailable, err)
	}
	per := map[string]GroupState{}
	for _, g := range groups {
		gs, err := b.groupState(ctx, stream, event, g, idx["dead:"+g.Name])
		if err != nil {
			return st, fmt.Errorf("%w: %v", strategies.ErrUnavailable, err)
		}
		per[g.Name] = gs
	}
	st.Status, st.Attempts, st.Error = summarize(per)
	st.Extra["groups"] = per
	return st, nil
}

func (b *Bus) groupState(ctx context.Context, stream, event string, g redis.XInfoGroup, deadReason string) (GroupState, error) {
	if compareIDs(event, g.LastDeliveredID) > 0 {
		return GroupState{Status: strategies.StatusQueued}, nil
	}
	pend, err := b.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: g.Name, Start: event, End: event, Count: 1}).Result()
	if err != nil {
		return GroupState{}, fmt.Errorf("xpending %s %s: %w", stream, g.Name, err)
	}
	if len(pend) > 0 {
		return GroupState{Status: strategies.StatusRunning, Attempts: pend[0].RetryCount, Consumer: pend[0].Consumer}, nil
	}
	if deadReason != "" {
		return GroupState{Status: strategies.StatusFailed, Error: deadReason}, nil
	}
	return GroupState{Status: strategies.StatusDone}, nil
}

// summarize is the job's status over all its handlers: failed if any gave
// up, else the least advanced one. No group yet means nobody has seen it.
func summarize(per map[string]GroupState) (strategies.Status, int, string) {
	if len(per) == 0 {
		return strategies.StatusQueued, 0, ""
	}
	rank := map[strategies.Status]int{strategies.StatusQueued: 0, strategies.StatusRunning: 1, strategies.StatusDone: 2}
	status, attempts := strategies.StatusDone, 0
	for name, g := range per {
		if g.Status == strategies.StatusFailed {
			return strategies.StatusFailed, int(g.Attempts), name + ": " + g.Error
		}
		if rank[g.Status] < rank[status] {
			status = g.Status
		}
		attempts = max(attempts, int(g.Attempts))
	}
	return status, attempts, ""
}
