package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/internal/mailer"
)

// Event is one stream entry as a handler sees it.
type Event struct {
	Stream    string // partition stream key
	Partition int    // the stream's partition index
	ID        string // entry id: the event's position
	JobID     string // "" when the entry has no id field
	Job       job.Job
	// Err is why the entry is not a valid job (a poison event: anyone can
	// XADD to the stream). Handlers that need the job fail with it.
	Err error
	// Retry is true when the entry was claimed from another delivery
	// (a dead consumer's, or an earlier failure), not read fresh.
	Retry bool
}

func decodeEvent(stream string, m redis.XMessage, retry bool) Event {
	ev := Event{Stream: stream, ID: m.ID, Retry: retry}
	ev.JobID, _ = m.Values[fieldID].(string)
	raw, _ := m.Values[fieldJob].(string)
	if raw == "" {
		ev.Err = fmt.Errorf("event %s: no %q field", m.ID, fieldJob)
		return ev
	}
	if err := json.Unmarshal([]byte(raw), &ev.Job); err != nil {
		ev.Err = fmt.Errorf("event %s: decode job: %w", m.ID, err)
		return ev
	}
	if err := ev.Job.Validate(); err != nil {
		ev.Err = fmt.Errorf("event %s: invalid job: %w", m.ID, err)
		return ev
	}
	if ev.Job.ID == "" || ev.Job.ID != ev.JobID {
		ev.Err = fmt.Errorf("event %s: job id %q does not match the event's id %q", m.ID, ev.Job.ID, ev.JobID)
	}
	return ev
}

// Handler is what one consumer group does with each event. It returns nil
// only when the work is done: only then is the entry acknowledged.
type Handler interface {
	Handle(ctx context.Context, ev Event) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev Event) error

func (f HandlerFunc) Handle(ctx context.Context, ev Event) error { return f(ctx, ev) }

// Email delivers the job: the talk's "sending emails is now a handler".
type Email struct{ Mailer *mailer.Mailer }

func (e Email) Handle(ctx context.Context, ev Event) error {
	if ev.Err != nil {
		return ev.Err
	}
	if ev.Job.Kind == job.KindCPU {
		job.Burn(ev.Job.Cost())
		return nil
	}
	if err := e.Mailer.Send(ctx, ev.Job); err != nil {
		return fmt.Errorf("send job %s: %w", ev.Job.ID, err)
	}
	return nil
}

// Audit appends every event, valid or not, to a Redis list as
// "<job id> <stream>/<entry id>": a second, independent handler of the same
// events, and a record tests can read back in order.
type Audit struct {
	RDB redis.UniversalClient
	Key string
}

func (a Audit) Handle(ctx context.Context, ev Event) error {
	id := ev.JobID
	if id == "" {
		id = "-"
	}
	if err := a.RDB.RPush(ctx, a.Key, id+" "+ev.Stream+"/"+ev.ID).Err(); err != nil {
		return fmt.Errorf("audit %s: %w", ev.ID, err)
	}
	return nil
}
