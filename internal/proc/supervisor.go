package proc

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Supervisor keeps a set of children running, checking every Interval and
// restarting any that died: the talk's leader loop. Stop stops them all.
type Supervisor struct {
	Interval time.Duration // default 1s
	Logger   *slog.Logger  // default slog.Default()

	mu       sync.Mutex
	children map[string]*child
	stopped  bool
	wg       sync.WaitGroup
	quit     chan struct{}
	once     sync.Once
}

type child struct {
	spec     Spec
	p        *Process
	restarts int
	paused   bool
}

// NewSupervisor returns a supervisor that starts watching at once.
func NewSupervisor(interval time.Duration, log *slog.Logger) *Supervisor {
	if interval <= 0 {
		interval = time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Supervisor{Interval: interval, Logger: log, children: map[string]*child{}, quit: make(chan struct{})}
	s.wg.Add(1)
	go s.watch()
	return s
}

// Add starts spec and keeps it running under spec.Name.
func (s *Supervisor) Add(spec Spec) (*Process, error) {
	p, err := Start(spec)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.children[spec.Name] = &child{spec: spec, p: p}
	return p, nil
}

// Process returns the current process for name (it changes on restart).
func (s *Supervisor) Process(name string) *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.children[name]; ok {
		return c.p
	}
	return nil
}

// Restarts is how often name was restarted.
func (s *Supervisor) Restarts(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.children[name]; ok {
		return c.restarts
	}
	return 0
}

// Pause stops restarting name (a fault scenario keeps it dead); Resume
// starts it again at once if it is not running.
func (s *Supervisor) Pause(name string) { s.setPaused(name, true) }

// Resume undoes Pause.
func (s *Supervisor) Resume(name string) {
	s.setPaused(name, false)
	s.check()
}

func (s *Supervisor) setPaused(name string, v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.children[name]; ok {
		c.paused = v
	}
}

func (s *Supervisor) watch() {
	defer s.wg.Done()
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
			s.check()
		}
	}
}

func (s *Supervisor) check() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	for name, c := range s.children {
		if c.paused || !c.p.Exited() {
			continue
		}
		s.Logger.Warn("child died, restarting", "child", name, "err", c.p.Err())
		p, err := Start(c.spec)
		if err != nil {
			s.Logger.Error("restart failed", "child", name, "err", err)
			continue
		}
		c.p = p
		c.restarts++
		s.Logger.Info("child restarted", "child", name, "pid", p.PID(), "restarts", c.restarts)
	}
}

// Stop stops every child (SIGTERM, then SIGKILL when ctx ends). Safe twice.
func (s *Supervisor) Stop(ctx context.Context) {
	s.once.Do(func() {
		close(s.quit)
		s.wg.Wait()
		s.mu.Lock()
		s.stopped = true
		kids := make([]*Process, 0, len(s.children))
		for _, c := range s.children {
			kids = append(kids, c.p)
		}
		s.mu.Unlock()
		var wg sync.WaitGroup
		for _, p := range kids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = p.Stop(ctx)
			}()
		}
		wg.Wait()
	})
}
