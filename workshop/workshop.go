// Package workshop holds the checks behind the workshop exercises in
// docs/workshop/: `offload exercise check N` (or `make exercise N=3`) runs
// one and says, in one clear message, whether the participant got there.
//
// Run-only exercises (1, 2, 4, 7) look at what the participant produced:
// their running server, or the results.json their bench run wrote. Code
// exercises (3, 5, 6, 8) run the participant's code from the skeleton
// packages below (ex03, ex05, ex06, ex08). Every check takes the code it
// checks as a value, so the tests can run it both against the untouched
// skeleton (it must fail with the intended hint) and against the reference
// solution under workshop/solutions (it must pass).
package workshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Hint is a check's "not yet": what is missing and what to try next.
type Hint struct {
	Problem string // what the check saw
	Try     string // what to do about it
}

func (h *Hint) Error() string {
	if h.Try == "" {
		return h.Problem
	}
	return h.Problem + "\n  try: " + h.Try
}

// hintf builds a Hint; try may be empty.
func hintf(try, format string, args ...any) *Hint {
	return &Hint{Problem: fmt.Sprintf(format, args...), Try: try}
}

// Options are where the run-only checks look.
type Options struct {
	Addr  string // the participant's server; default 127.0.0.1:8080
	Addr2 string // exercise 1's second server; default 127.0.0.1:8081
	Out   string // where bench results are; default "out"
	Root  string // the module root, for the go test of exercises 5 and 8; default: found with go env GOMOD
	// Overlay is a `go build -overlay` file for those go test runs: the
	// workshop's own tests use it to check wrong answers and the solutions
	// in the participant's place.
	Overlay string
	// Strategy is exercise 8's strategy as the catalog names it; default "seventh".
	Strategy string
	Log      io.Writer // progress lines; default io.Discard
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Addr2 == "" {
		o.Addr2 = "127.0.0.1:8081"
	}
	if o.Out == "" {
		o.Out = "out"
	}
	if o.Strategy == "" {
		o.Strategy = "seventh"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Exercise is one workshop exercise and its check.
type Exercise struct {
	N     int
	Doc   string // docs/workshop/ file
	Title string
	// Check returns a pass message, or an error (a *Hint when the
	// participant is not there yet).
	Check func(ctx context.Context, o Options) (string, error)
}

// Exercises lists them in order; the checks run the participant's code
// (the skeleton packages, edited).
func Exercises() []Exercise {
	return []Exercise{
		{1, "01-first-mail.md", "Run foreground and fireforget; send mails; compare response times", CheckFirstMail},
		{2, "02-block-the-loop.md", "Block the loop with a cpu job; read /debug/lag", CheckBlockedLoop},
		{3, "03-yield-or-offload.md", "Move cpu work off the loop: slices that yield, or the pool", func(ctx context.Context, o Options) (string, error) {
			return CheckYield(ctx, o, ParticipantYield())
		}},
		{4, "04-kill-things.md", "Kill things: count lost jobs with offload bench", CheckKillThings},
		{5, "05-capture-failures.md", "Make fireforget capture its failures and expose them", CheckCaptureRace},
		{6, "06-retry-with-backoff.md", "Retry with exponential backoff through a mail outage", func(ctx context.Context, o Options) (string, error) {
			return CheckRetry(ctx, o, ParticipantRetry())
		}},
		{7, "07-scale-out.md", "Scale out: more workers, more throughput", CheckScale},
		{8, "08-seventh-strategy.md", "Add a seventh strategy behind the Strategy contract", func(ctx context.Context, o Options) (string, error) {
			return CheckSeventh(ctx, o, "./workshop/ex08")
		}},
	}
}

// Lookup finds exercise n; arg is the user's text ("3" or "03").
func Lookup(arg string) (Exercise, error) {
	n, err := strconv.Atoi(arg)
	all := Exercises()
	if err == nil {
		for _, e := range all {
			if e.N == n {
				return e, nil
			}
		}
	}
	nums := make([]string, 0, len(all))
	for _, e := range all {
		nums = append(nums, strconv.Itoa(e.N))
	}
	sort.Strings(nums)
	return Exercise{}, fmt.Errorf("no exercise %q: use one of %v", arg, nums)
}

// IsHint reports whether err is a check's "not yet" rather than a failure
// of the check itself.
func IsHint(err error) bool {
	var h *Hint
	return errors.As(err, &h)
}
