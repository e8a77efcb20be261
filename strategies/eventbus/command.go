package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/offload/offload/internal/cli"
)

// Command is `offload eventbus`: it inspects and steers the event bus from outside its
// processes: `stats` (per-group lag, pending, dead letters) and `replay`
// (move one group's cursor back; the others are untouched).
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "stats" && args[0] != "replay") {
		fmt.Fprintln(stderr, "usage: offload eventbus stats [--json] | replay --group NAME --from 0|ID|RFC3339|DURATION  [--redis URL] [--partitions N]")
		return cli.Usagef("eventbus: give stats or replay")
	}
	sub := args[0]
	fs := cli.NewFlagSet("eventbus "+sub, stderr)
	redisURL := fs.String("redis", "redis://127.0.0.1:6379/0", "Redis URL (also REDIS_URL)")
	partitions := fs.Int("partitions", 0, "number of stream partitions the web side writes (0: the count it recorded in Redis, else 1)")
	group := fs.String("group", "", "replay: the consumer group (handler) to replay")
	from := fs.String("from", "", "replay: first event to deliver again: 0 (all retained), an entry id, an RFC 3339 time, or a duration ago (1h)")
	asJSON := fs.Bool("json", false, "stats: print JSON")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	if *partitions < 0 {
		return cli.Usagef("--partitions %d: must be at least 1 (or 0: as recorded)", *partitions)
	}
	rdb, err := Connect(ctx, *redisURL)
	if err != nil {
		return cli.Usage(err)
	}
	defer rdb.Close()
	if *partitions == 0 {
		if *partitions, err = RecordedPartitions(ctx, rdb); err != nil {
			return err
		}
	}
	keys := Keys{Partitions: *partitions}
	if sub == "replay" {
		if *group == "" {
			return cli.Usagef("replay: --group is required")
		}
		pos, err := ParseFrom(*from, time.Now())
		if err != nil {
			return cli.Usagef("--from: %v", err)
		}
		if err := Replay(ctx, rdb, keys, *group, pos); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "group %s will receive every retained event from %s again; other groups untouched\n", *group, pos)
		return nil
	}
	stats, err := Stats(ctx, rdb, keys)
	if len(stats) == 0 {
		return err
	}
	// The partitions that could be read are shown even when one could not
	// (its master is away); the error still makes the exit status non-zero.
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return errors.Join(enc.Encode(stats), err)
	}
	return errors.Join(printStats(stdout, stats), err)
}

func printStats(w io.Writer, stats []StreamStats) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tNODE\tLENGTH\tFIRST\tLAST\tGROUP\tCONSUMERS\tLAG\tPENDING\tOLDEST PENDING\tDEAD")
	for _, s := range stats {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\tunreadable: %s\t\t\t\t\t\t\t\t\n", s.Stream, s.Node, s.Error)
			continue
		}
		if len(s.Groups) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t-\t\t\t\t\t\n", s.Stream, s.Node, s.Length, s.FirstID, s.LastID)
		}
		for _, g := range s.Groups {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%v\t%d\n", s.Stream, s.Node, s.Length, s.FirstID, s.LastID,
				g.Name, g.Consumers, g.Lag, g.Pending, g.OldestPendingIdle.Round(time.Millisecond), g.DeadLetters)
		}
	}
	return tw.Flush()
}
