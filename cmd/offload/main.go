// Command offload measures how a web server should move slow work (sending
// an email) off its request path. See README.md and docs/.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/strategies/catalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && exitCode(err) != 0 {
		fmt.Fprintln(os.Stderr, "offload:", err)
	}
	os.Exit(exitCode(err))
}

func exitCode(err error) int { return cli.ExitCode(err) }

// command is one subcommand: its one-line purpose and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	cmds := map[string]command{
		"serve":         {"run the web server for one strategy", runServe},
		"work":          {"run a worker that performs jobs for one strategy", runWork},
		"run":           {"start everything one strategy needs, supervised; Ctrl-C stops all", runRun},
		"sink":          {"run the mail sink: a real SMTP server that records deliveries", runSink},
		"bench":         {"run the load harness over strategies and scenarios", runBench},
		"report":        {"re-render charts and report from DIR/results.json", runReport},
		"compare":       {"compare two benches: offload compare DIR1 DIR2 (changes beyond noise)", runCompare},
		"exercise":      {"check a workshop exercise: offload exercise check N (docs/workshop/)", runExercise},
		"gen-vs-hey":    {"benchmark the bench's load generator against rakyll/hey (CPU per request, rate kept)", runGenVsHey},
		"placement":     {"the measurement the bench's default --cpus split is chosen by: the same quick bench under each split", runPlacement},
		"node-vs-model": {"the talk's programs on real Node beside offload's --loop node: accept, delivery, cpu-scenario latency and lag", runNodeVsModel},
	}
	// A strategy's own subcommand (offload queue stats) comes from its
	// catalog entry, named after it.
	for _, e := range catalog.All() {
		if e.Command != nil {
			cmds[e.Name] = command{e.Command.Summary, e.Command.Run}
		}
	}
	return cmds
}

// hiddenCommands are started by the bench, not by people: they are left out
// of the usage.
func hiddenCommands() map[string]command {
	return map[string]command{
		"baseline":  {"the capacity ladder's reference server: 202 after one LPUSH", runBaseline},
		"bare-http": {"a handler that answers 202 and does nothing, for gen-vs-hey", runBareHTTP},
		"generate":  {"one generator process of offload bench --generators N", runGenerate},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return cli.Usagef("no command given")
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if h, hidden := hiddenCommands()[args[0]]; hidden {
		c, ok = h, true
	}
	if !ok {
		usage(stderr, cmds)
		return cli.Usagef("unknown command %q", args[0])
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: offload COMMAND [flags]   (every flag also reads OFFLOAD_<FLAG>; --redis reads REDIS_URL)\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-7s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun `offload COMMAND -h` for a command's flags.\n")
	fmt.Fprint(w, b.String())
}
