package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/offload/offload/results"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux the harness runs on.
const clockTicks = 100

// ProcStat is what /proc says about one process at one moment.
type ProcStat struct {
	PID, PPID int
	Start     uint64 // start time in ticks since boot: (pid, start) names a process uniquely
	CPUTicks  uint64 // utime + stime
	PeakRSSKB uint64 // VmHWM: the kernel's own peak, so no spike falls between samples
	Cmdline   string // argv joined by spaces
	Zombie    bool
}

// ReadProc reads /proc/<pid>/stat, status and cmdline under root (normally
// "/proc"; tests pass a fake tree).
func ReadProc(root string, pid int) (ProcStat, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return ProcStat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	st, err := parseStat(string(b))
	if err != nil {
		return ProcStat{}, fmt.Errorf("parse stat of %d: %w", pid, err)
	}
	if s, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		st.PeakRSSKB = statusKB(string(s), "VmHWM:")
	}
	if c, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		st.Cmdline = strings.TrimSpace(strings.ReplaceAll(string(c), "\x00", " "))
	}
	return st, nil
}

// parseStat reads /proc/<pid>/stat. The command name (field 2) may contain
// spaces and parentheses, so fields are counted from the last ')'.
func parseStat(s string) (ProcStat, error) {
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return ProcStat{}, fmt.Errorf("no command field in %q", s)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return ProcStat{}, fmt.Errorf("pid: %w", err)
	}
	f := strings.Fields(s[closing+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return ProcStat{}, fmt.Errorf("only %d fields", len(f)+2)
	}
	num := func(field int) uint64 { v, _ := strconv.ParseUint(f[field-3], 10, 64); return v }
	return ProcStat{
		PID:      pid,
		PPID:     int(num(4)),
		CPUTicks: num(14) + num(15),
		Start:    num(22),
		Zombie:   f[0] == "Z" || f[0] == "X",
	}, nil
}

func statusKB(status, key string) uint64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			v, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}

// Children lists the pids whose parent is pid, by walking root.
func Children(root string, pid int) []int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := ReadProc(root, c); err == nil && st.PPID == pid && !st.Zombie {
			out = append(out, c)
		}
	}
	sort.Ints(out)
	return out
}

// Sampler accumulates the CPU and peak memory of named processes between
// Begin and the last Sample. A process that dies keeps what it used up to
// its last sample; one that starts later (a restart) counts from zero.
type Sampler struct {
	Root string // default /proc

	mu      sync.Mutex
	baseAt  map[procKey]uint64 // CPU ticks when first seen in the window
	last    map[procKey]uint64
	peak    map[procKey]uint64
	role    map[procKey]string
	started bool
}

type procKey struct {
	pid   int
	start uint64
}

// Target is one process to sample under a role name ("web", "worker-1").
type Target struct {
	Role string
	PID  int
	Tree bool // also sample its descendants (a supervisor's children)
}

// Begin starts the window: what the targets used before does not count.
func (s *Sampler) Begin(targets []Target) {
	s.mu.Lock()
	s.baseAt, s.last, s.peak, s.role = map[procKey]uint64{}, map[procKey]uint64{}, map[procKey]uint64{}, map[procKey]string{}
	s.started = false
	s.mu.Unlock()
	s.Sample(targets)
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
}

// Sample reads the targets (and, for Tree targets, their descendants) once.
func (s *Sampler) Sample(targets []Target) {
	root := s.root()
	for _, t := range targets {
		if t.PID <= 0 {
			continue
		}
		s.observe(root, t.Role, t.PID)
		if t.Tree {
			s.walk(root, t.Role, t.PID, 0)
		}
	}
}

func (s *Sampler) walk(root, role string, pid, depth int) {
	if depth > 4 {
		return
	}
	for _, c := range Children(root, pid) {
		st, err := ReadProc(root, c)
		if err != nil {
			continue
		}
		s.observeStat(role+"/"+childRole(st.Cmdline), st)
		s.walk(root, role, c, depth+1)
	}
}

// childRole names a supervisor's child by its subcommand.
func childRole(cmdline string) string {
	f := strings.Fields(cmdline)
	if len(f) > 1 {
		return f[1]
	}
	if len(f) == 1 {
		return filepath.Base(f[0])
	}
	return "child"
}

func (s *Sampler) root() string {
	if s.Root == "" {
		return "/proc"
	}
	return s.Root
}

func (s *Sampler) observe(root, role string, pid int) {
	st, err := ReadProc(root, pid)
	if err != nil {
		return // gone: it keeps its last sample
	}
	s.observeStat(role, st)
}

func (s *Sampler) observeStat(role string, st ProcStat) {
	if st.Zombie {
		return // a zombie's counters are its final ones only after the reap; keep the last live sample
	}
	k := procKey{st.PID, st.Start}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.last[k]; !ok {
		base := st.CPUTicks
		if s.started {
			base = 0 // born during the window: everything it used counts
		}
		s.baseAt[k] = base
		s.role[k] = role
	}
	s.last[k] = st.CPUTicks
	s.peak[k] = max(s.peak[k], st.PeakRSSKB)
}

// Use sums CPU seconds and peak RSS per role (a restarted process adds to
// its role), in a stable order.
func (s *Sampler) Use() []results.ProcessUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	byRole := map[string]*results.ProcessUse{}
	var roles []string
	for k, last := range s.last {
		role := s.role[k]
		u, ok := byRole[role]
		if !ok {
			u = &results.ProcessUse{Role: role}
			byRole[role] = u
			roles = append(roles, role)
		}
		u.CPUS += float64(last-min(last, s.baseAt[k])) / clockTicks
		u.PeakRSSMB = max(u.PeakRSSMB, float64(s.peak[k])/1024)
	}
	sort.Strings(roles)
	out := make([]results.ProcessUse, 0, len(roles))
	for _, r := range roles {
		u := byRole[r]
		u.CPUS, u.PeakRSSMB = round3(u.CPUS), round3(u.PeakRSSMB)
		out = append(out, *u)
	}
	return out
}
