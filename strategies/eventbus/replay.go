package eventbus

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Replay moves one group's cursor back so its consumers receive every
// retained event from position `from` (inclusive, see ParseFrom) again.
// Only this group's cursor moves: every other handler is untouched, which
// is the difference between an event log and a queue. Entries still pending
// in the group stay pending and are simply delivered again.
func Replay(ctx context.Context, rdb redis.UniversalClient, keys Keys, group, from string) error {
	id, err := parseID(from)
	if err != nil {
		return err
	}
	last := id.before()
	for _, s := range keys.Streams() {
		args := []any{"XGROUP", "SETID", s, group, last.String()}
		if last == (streamID{}) {
			// From the very start the count of entries read is known (0),
			// so Redis can keep reporting the group's lag exactly.
			args = append(args, "ENTRIESREAD", 0)
		}
		if err := rdb.Do(ctx, args...).Err(); err != nil {
			if isNoGroup(err) || isNoSuchKey(err) {
				return fmt.Errorf("replay %s on %s: no such group: start its consumer first (offload work --strategy eventbus --group %s)", group, s, group)
			}
			return fmt.Errorf("replay %s on %s: %w", group, s, err)
		}
	}
	return nil
}
