// Package cpuset pins processes to CPUs. A benchmark on a small machine
// measures whoever won the CPU unless the load and the system under test
// are kept apart; this package parses a CPU list ("0", "1-3", "0,2") and
// applies it to every thread of a process.
package cpuset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Set is a sorted list of CPU numbers.
type Set []int

// Parse reads a CPU list as the kernel writes one (Cpus_allowed_list):
// numbers and ranges separated by commas.
func Parse(s string) (Set, error) {
	var out Set
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("cpu list %q: empty entry", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("cpu list %q: %q is not a cpu number", s, lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("cpu list %q: %q is not a range", s, part)
			}
		}
		for c := a; c <= b; c++ {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// String writes the set back as a CPU list.
func (s Set) String() string {
	var parts []string
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", s[i], s[j]))
		} else {
			parts = append(parts, strconv.Itoa(s[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Split is where a benchmark runs: its load side (the generator, the mail
// sink standing in for the provider) on Load, the system under test on
// SUT. A nil Split runs everything wherever the scheduler puts it.
type Split struct {
	Load, SUT Set
}

// String writes the split as ParseSplit reads it ("off" for none).
func (s *Split) String() string {
	if s == nil {
		return "off"
	}
	return s.Load.String() + "/" + s.SUT.String()
}

// DefaultSplit divides the CPUs this process may use: the last quarter (at
// least one) for the load, the rest for the system under test; nil (no
// pinning) below MinSplitCPUs or where pinning is not supported. The load
// takes the last CPUs because the first takes more of the machine's own
// work; the measurement behind both choices is in docs/measuring.md.
func DefaultSplit() *Split {
	if !Supported() {
		return nil
	}
	mine, err := Allowed(0)
	if err != nil || len(mine) < MinSplitCPUs {
		return nil
	}
	k := len(mine) - max(1, len(mine)/4)
	return &Split{Load: mine[k:], SUT: mine[:k]}
}

// MinSplitCPUs is the fewest CPUs the default split pins on. On 2 cores
// the load side gets one CPU, and there its own garbage collector and
// threads delay the generator by milliseconds (pauses of 4-950 ms in a
// full bench, against 1 ms unpinned): fewer runs keep their timing than
// with nothing pinned.
const MinSplitCPUs = 4

// ParseSplit reads a --cpus value: "LOAD/SUT" cpu lists such as 0/1, "off"
// for no pinning, or "" for DefaultSplit.
func ParseSplit(v string) (*Split, error) {
	switch v {
	case "off":
		return nil, nil
	case "":
		return DefaultSplit(), nil
	}
	l, r, ok := strings.Cut(v, "/")
	if !ok {
		return nil, fmt.Errorf("--cpus %q: want LOAD/SUT cpu lists such as 0/1, or off", v)
	}
	load, err := Parse(l)
	if err != nil {
		return nil, fmt.Errorf("--cpus %q: load: %w", v, err)
	}
	sut, err := Parse(r)
	if err != nil {
		return nil, fmt.Errorf("--cpus %q: system under test: %w", v, err)
	}
	if !Supported() {
		return nil, fmt.Errorf("--cpus %q: pinning processes to cpus needs linux (sched_setaffinity)", v)
	}
	mine, err := Allowed(0)
	if err != nil {
		return nil, fmt.Errorf("--cpus %q: %w", v, err)
	}
	for _, c := range append(slices.Clone(load), sut...) {
		if !slices.Contains(mine, c) {
			return nil, fmt.Errorf("--cpus %q: cpu %d is not one this process may use (%s)", v, c, mine)
		}
	}
	return &Split{Load: load, SUT: sut}, nil
}
