package harness

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/wait"
	"github.com/offload/offload/strategies/catalog"
)

// Fault kinds, as recorded in results.json.
const (
	FaultKillWorker   = "kill-worker"
	FaultKillWeb      = "kill-web"
	FaultRestartRedis = "restart-redis"
	FaultMailOutage   = "mail-outage"
	FaultFailover     = "failover"
	FaultPartition    = "partition"
)

// FaultPlan is one fault on a run's timeline, relative to the start of the
// measured phase: injected at At, repaired at At+For.
type FaultPlan struct {
	Kind string
	At   time.Duration
	For  time.Duration
}

// Injector performs faults. Inject breaks something and says what;
// Repair mends it and returns once the repair is visible (the process
// answers, the broker accepts connections, the sink is healthy).
type Injector interface {
	Inject(ctx context.Context, kind string, d time.Duration) (target, detail string, err error)
	Repair(ctx context.Context, kind string) error
}

// RunFault waits for the plan's moment, injects, waits, repairs, and
// reports the window on the wall clock. ctx ending skips what is left.
func RunFault(ctx context.Context, clk Clock, start time.Time, plan FaultPlan, inj Injector) FaultWindow {
	w := FaultWindow{Kind: plan.Kind}
	if err := clk.SleepUntil(ctx, start.Add(plan.At)); err != nil {
		w.Detail = "not injected: run interrupted"
		return w
	}
	w.Start = clk.Now()
	target, detail, err := inj.Inject(ctx, plan.Kind, plan.For)
	w.Target, w.Detail = target, detail
	if err != nil {
		w.Start = time.Time{}
		w.Detail = "inject failed: " + err.Error()
		return w
	}
	if err := clk.SleepUntil(ctx, start.Add(plan.At+plan.For)); err != nil {
		return w
	}
	if err := inj.Repair(ctx, plan.Kind); err != nil {
		w.Detail += "; repair failed: " + err.Error()
		return w
	}
	w.Repair = clk.Now()
	return w
}

// envInjector applies faults to a run's processes and sink.
type envInjector struct {
	env  *Env
	sink *mailsink.Sink
	// accepted, when set, returns once the web has just acknowledged a job:
	// a kill then lands at the worst moment for a strategy that answers
	// before the job is safe, instead of whenever the timer fires.
	accepted func(ctx context.Context)
	// for the supervised layout: the child killed, to tell its successor apart
	killedChild int
}

func (f *envInjector) Inject(ctx context.Context, kind string, d time.Duration) (string, string, error) {
	e := f.env
	switch kind {
	case FaultFailover:
		return e.failover.inject(ctx)
	case FaultPartition:
		return e.cut(ctx, d)
	case FaultMailOutage:
		f.sink.Outage(d)
		return "sink", fmt.Sprintf("sink answers 451 for %v", d), nil
	case FaultRestartRedis:
		if e.redis == nil {
			return "", "", fmt.Errorf("no redis in this run")
		}
		return "redis", "SIGKILL redis-server (appendonly yes, appendfsync always), start it again on the same port", e.redis.Kill()
	case FaultKillWeb, FaultKillWorker:
		if f.accepted != nil {
			f.accepted(ctx)
		}
		if e.cfg.Entry.Layout() == catalog.Supervised {
			sub := map[string]string{FaultKillWeb: "serve", FaultKillWorker: "work"}[kind]
			pid, err := e.supervisedChild(sub)
			if err != nil {
				return "", "", err
			}
			f.killedChild = pid
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return sub, fmt.Sprintf("SIGKILL the supervisor's %s child (pid %d); the supervisor restarts it", sub, pid), nil
		}
		if kind == FaultKillWeb {
			return "web", fmt.Sprintf("SIGKILL web (pid %d)", e.web.PID()), e.web.Kill()
		}
		if len(e.workers) == 0 {
			return "", "", fmt.Errorf("no worker in this run")
		}
		w := e.workers[0]
		return "worker-1", fmt.Sprintf("SIGKILL worker-1 (pid %d)", w.PID()), w.Kill()
	}
	return "", "", fmt.Errorf("unknown fault %q", kind)
}

func (f *envInjector) Repair(ctx context.Context, kind string) error {
	e := f.env
	switch kind {
	case FaultFailover:
		return e.failover.repair(ctx)
	case FaultPartition:
		if e.net == nil {
			return fmt.Errorf("no partition namespace in this run")
		}
		return e.net.Heal(ctx)
	case FaultMailOutage:
		if !wait.Until(ctx, 30*time.Second, func() bool { return !f.sink.Stats().Outage }) {
			return fmt.Errorf("sink still in outage")
		}
		return nil
	case FaultRestartRedis:
		if err := e.redis.Restart(ctx, true); err != nil {
			return err
		}
		e.all = append(e.all, e.redis.Process())
		return nil
	case FaultKillWeb, FaultKillWorker:
		if e.cfg.Entry.Layout() == catalog.Supervised {
			return f.awaitSupervisorRestart(ctx, kind)
		}
		if kind == FaultKillWeb {
			p, err := e.start("web", e.webArgs())
			if err != nil {
				return err
			}
			e.web = p
			return e.waitHealthy(ctx)
		}
		p, err := e.start("worker-1", e.workerArgs(e.cfg.Entry.BenchWorkerArgs))
		if err != nil {
			return err
		}
		e.workers[0] = p
		return nil
	}
	return fmt.Errorf("unknown fault %q", kind)
}

// awaitSupervisorRestart is the repair when the supervisor restarts its own
// children: the new web child answers /healthz, or a new worker child runs.
func (f *envInjector) awaitSupervisorRestart(ctx context.Context, kind string) error {
	e := f.env
	sub := map[string]string{FaultKillWeb: "serve", FaultKillWorker: "work"}[kind]
	client := &http.Client{Timeout: 500 * time.Millisecond}
	ok := wait.Until(ctx, 15*time.Second, func() bool {
		pid, err := e.supervisedChild(sub)
		if err != nil || pid == f.killedChild {
			return false
		}
		return kind == FaultKillWorker || healthy(ctx, client, e.URL())
	})
	if !ok {
		return fmt.Errorf("the supervisor did not bring its %s child back within 15s", sub)
	}
	return nil
}

// cut is the partition fault: the blackhole route inside the namespace
// the web process and worker-1 run in.
func (e *Env) cut(ctx context.Context, d time.Duration) (string, string, error) {
	n := e.net
	if n == nil {
		return "", "", fmt.Errorf("no partition namespace in this run")
	}
	var who []string
	for _, role := range cutOff {
		if p := e.role(role); p != nil {
			who = append(who, fmt.Sprintf("%s (pid %d)", role, p.PID()))
		}
	}
	detail := fmt.Sprintf("blackhole route to redis %s inside network namespace %s, where %s run, for %v: "+
		"packets on open connections vanish, new connections fail at once; the mail sink (%s) and the other processes stay reachable",
		n.CutIP, n.Name, strings.Join(who, " and "), d, n.HostIP)
	return strings.Join(cutOff, "+"), detail, n.Cut(ctx)
}
