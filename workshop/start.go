package workshop

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// An exercise whose check reads bench results counts only the runs made
// after the participant began it, so that a results.json left by an
// earlier `make bench` (or a neighbour's) cannot pass it. Start records
// that moment in a file under Options.Out.

// startFile is where exercise n's start is kept.
func startFile(o Options, n int) string {
	return filepath.Join(o.Out, ".exercise", strconv.Itoa(n)+".start")
}

// Start records now as the beginning of exercise n and returns it.
func Start(o Options, n int) (time.Time, error) {
	o = o.withDefaults()
	p := startFile(o, n)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return time.Time{}, fmt.Errorf("record the start of exercise %d: %w", n, err)
	}
	now := time.Now()
	if err := os.WriteFile(p, []byte(now.Format(time.RFC3339Nano)+"\n"), 0o644); err != nil {
		return time.Time{}, fmt.Errorf("record the start of exercise %d: %w", n, err)
	}
	return now, nil
}

// Started is when exercise n began, or a hint to begin it.
func Started(o Options, n int) (time.Time, error) {
	o = o.withDefaults()
	p := startFile(o, n)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, hintf(fmt.Sprintf("offload exercise start %d --out %s, then do the exercise's steps", n, o.Out),
			"exercise %d counts only bench runs made after you started it, and it was never started (no %s)", n, p)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read the start of exercise %d: %w", n, err)
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w (run offload exercise start %d again)", p, err, n)
	}
	return t, nil
}
