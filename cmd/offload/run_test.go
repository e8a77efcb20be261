package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/offload/offload/internal/cli"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/redisproc"
	"github.com/offload/offload/strategies/catalog"
	"github.com/offload/offload/strategies/strategytest"
)

func TestBadInvocationsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", []string{"frobnicate"}, nil, "unknown command"},
		{"unknown strategy", []string{"serve", "--strategy", "carrier-pigeon"}, nil, "unknown strategy"},
		{"missing strategy", []string{"serve"}, nil, "--strategy is required"},
		{"bad loop", []string{"serve", "--strategy", "foreground", "--loop", "fibers"}, nil, "loop"},
		{"bad redis url", []string{"serve", "--strategy", "foreground", "--redis", "http://x"}, nil, "--redis"},
		{"bad smtp", []string{"serve", "--strategy", "foreground", "--smtp", "nohostport"}, nil, "--smtp"},
		{"bad env", []string{"serve", "--strategy", "foreground"}, map[string]string{"OFFLOAD_POOL": "many"}, "OFFLOAD_POOL"},
		{"bad sink fail rate", []string{"sink", "--fail-rate", "2", "--addr", "127.0.0.1:0", "--http", ""}, nil, "fail-rate"},
		{"no workers", []string{"work", "--strategy", "foreground"}, nil, "no workers"},
		{"bad durable", []string{"serve", "--strategy", "queue", "--durable", "fsync"}, nil, "--durable \"fsync\": use none or wait"},
		{"durable without redis", []string{"serve", "--strategy", "foreground", "--durable", "wait"}, nil, "foreground does not store jobs in Redis"},
		{"no shards", []string{"serve", "--strategy", "queue", "--shards", "0"}, nil, "--shards 0"},
		{"cluster without redis", []string{"run", "--strategy", "foreground", "--redis-cluster"}, nil, "foreground uses no Redis"},
		{"cluster and redis", []string{"run", "--strategy", "queue", "--redis-cluster", "--redis", "redis://127.0.0.1:1"}, nil, "give one of them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errb)
			if err == nil {
				t.Fatal("no error")
			}
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit code %d (%v), want 2", code, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line mentioning %q", msg, tt.want)
			}
		})
	}
}

func TestRunForegroundAndFireforget(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	sink := itest.Sink(t, mailsink.Config{Delay: 100 * time.Millisecond})
	for _, strat := range []string{"foreground", "fireforget"} {
		t.Run(strat, func(t *testing.T) {
			addr := itest.FreeAddr(t)
			p := itest.Start(t, "run-"+strat, "run", "--strategy", strat, "--addr", addr, "--smtp", sink.Addr())
			base := "http://" + addr
			itest.WaitHTTP(t, base+"/healthz")
			r := strategytest.Post(t, base, strategytest.MailJSON("via offload run"), "")
			id, _ := r.Body["id"].(string)
			_, deliveredAtAnswer := sink.Delivery(id)
			switch strat {
			case "foreground":
				if r.Code != http.StatusOK || !deliveredAtAnswer {
					t.Fatalf("foreground: %d, delivered at answer %v; want 200 after delivery", r.Code, deliveredAtAnswer)
				}
			case "fireforget":
				if r.Code != http.StatusAccepted || deliveredAtAnswer {
					t.Fatalf("fireforget: %d, delivered at answer %v; want 202 before delivery", r.Code, deliveredAtAnswer)
				}
				strategytest.WaitDelivered(t, sink, []string{id}, 10*time.Second)
			}
			// Ctrl-C stops everything offload run started.
			if err := p.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			itest.Eventually(t, 20*time.Second, "offload run to exit on SIGINT", p.Exited)
			if err := p.Err(); err != nil {
				t.Fatalf("offload run exited with %v", err)
			}
			itest.Eventually(t, 5*time.Second, "the web server to be gone", func() bool {
				_, err := http.Get(base + "/healthz")
				return err != nil
			})
		})
	}
}

func TestSinkCommandServesStats(t *testing.T) {
	smtpAddr, httpAddr := itest.FreeAddr(t), itest.FreeAddr(t)
	itest.Start(t, "sink", "sink", "--addr", smtpAddr, "--http", httpAddr, "--delay", "0s")
	itest.WaitHTTP(t, "http://"+httpAddr+"/stats")
	resp, err := http.Get("http://" + httpAddr + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st mailsink.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Received != 0 {
		t.Fatalf("fresh sink reports %d received", st.Received)
	}
}

// An unreachable Redis is one line on stderr and exit 2, for every strategy
// that needs one, with nothing from the Redis client library around it.
func TestUnreachableRedisIsOneLine(t *testing.T) {
	port, err := redisproc.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	for _, strat := range []string{"pubsub", "queue", "eventbus"} {
		t.Run(strat, func(t *testing.T) {
			cmd := exec.Command(itest.Binary(t), "serve", "--strategy", strat,
				"--redis", fmt.Sprintf("redis://127.0.0.1:%d/0", port), "--addr", itest.FreeAddr(t))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2 (stderr %q)", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "unreachable") {
				t.Fatalf("stderr = %q, want one line saying Redis is unreachable", stderr.String())
			}
		})
	}
}

// SIGTERM stops every kind of worker: the supervisor of `offload run` waits
// for it before it resorts to SIGKILL.
func TestWorkersStopOnSIGTERM(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	rs := itest.Redis(t)
	sink := itest.Sink(t, mailsink.Config{})
	for _, tt := range []struct {
		strategy string
		extra    []string
	}{
		{"pubsub", nil},
		{"pubsub", []string{"--transport", "zmq", "--zmq", "tcp://" + itest.FreeAddr(t)}},
		{"queue", nil},
		{"eventbus", []string{"--group", "email", "--handler", "email"}},
	} {
		t.Run(tt.strategy+strings.Join(tt.extra, ""), func(t *testing.T) {
			httpAddr := itest.FreeAddr(t)
			args := append([]string{"work", "--strategy", tt.strategy, "--redis", rs.URL(), "--smtp", sink.Addr(), "--http", httpAddr}, tt.extra...)
			p := itest.Start(t, "worker", args...)
			itest.WaitHTTP(t, "http://"+httpAddr+"/metrics")
			if err := p.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			itest.Eventually(t, 10*time.Second, "the worker to exit after SIGTERM", p.Exited)
			if err := p.Err(); err != nil {
				t.Fatalf("worker exited with %v", err)
			}
		})
	}
}

func TestRunPassesStrategyFlagsOn(t *testing.T) {
	e, err := catalog.Lookup("queue")
	if err != nil {
		t.Fatal(err)
	}
	fs := cli.NewFlagSet("run", io.Discard)
	fs.String("addr", "", "")
	own := flagNames(fs)
	web := adoptFlags(fs, own, "web", func(wfs *flag.FlagSet) { e.WebConstructor(wfs) })
	workers := adoptFlags(fs, own, "worker", func(wfs *flag.FlagSet) { e.Worker(wfs) })
	if err := fs.Parse([]string{"--max", "7", "--namespace", "{q}", "--addr", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if got := setFlags(fs, web); !slices.Equal(got, []string{"--namespace={q}"}) {
		t.Errorf("web args = %v, want [--namespace={q}]", got)
	}
	// The namespace is one flag both sides register: it reaches both.
	if got := setFlags(fs, workers); !slices.Equal(got, []string{"--max=7", "--namespace={q}"}) {
		t.Errorf("worker args = %v, want [--max=7 --namespace={q}] (run's own --addr stays run's)", got)
	}
}

// `offload serve --strategy X --help` lists X's own web flags.
func TestServeHelpListsTheStrategysFlags(t *testing.T) {
	for _, e := range catalog.All() {
		t.Run(e.Name, func(t *testing.T) {
			want := flag.NewFlagSet("web", flag.ContinueOnError)
			e.WebConstructor(want)
			var out, errb bytes.Buffer
			if err := run(context.Background(), []string{"serve", "--strategy", e.Name, "--help"}, &out, &errb); exitCode(err) != 0 {
				t.Fatalf("serve --help: %v", err)
			}
			want.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(errb.String()+out.String(), "-"+f.Name+" ") {
					t.Errorf("--help does not list -%s", f.Name)
				}
			})
		})
	}
}

// An old server still on the port must stop offload run at once, with exit
// 2 and one line, before it starts anything or asks that server anything.
func TestRunRefusesABusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the old server does not answer: %v", err)
	} else {
		resp.Body.Close()
	}
	var out, errb bytes.Buffer
	err = run(context.Background(), []string{"run", "--strategy", "foreground", "--addr", addr}, &out, &errb)
	if code := exitCode(err); code != 2 {
		t.Fatalf("exit code %d (%v), want 2", code, err)
	}
	if msg := err.Error(); !strings.Contains(msg, addr+" is already in use") || strings.Contains(msg, "\n") {
		t.Fatalf("error %q: want one line saying %s is already in use", msg, addr)
	}
	if out.Len() != 0 {
		t.Fatalf("printed a banner for a server it did not start: %q", out.String())
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("the old server got %d requests after the test's own probe, want none", n-1)
	}
}

// offload run --redis-cluster starts six redis-servers formed into a
// cluster, spreads the queue over its three masters without being told,
// delivers through it, and leaves no node behind on Ctrl-C.
func TestRunRedisCluster(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	sink := itest.Sink(t, mailsink.Config{})
	addr := itest.FreeAddr(t)
	p, out := itest.StartCapture(t, "run-cluster", "run", "--strategy", "queue", "--redis-cluster",
		"--addr", addr, "--smtp", sink.Addr(), "--ui", "off")
	base := "http://" + addr
	itest.Eventually(t, 60*time.Second, "the banner", func() bool { return strings.Contains(out.String(), "try:") })
	banner := out.String()
	masters := regexp.MustCompile(`master (127\.0\.0\.1:\d+) \(pid (\d+)`).FindAllStringSubmatch(banner, -1)
	if !strings.Contains(banner, "cluster of 6 nodes") || len(masters) != 3 {
		t.Fatalf("banner shows %d masters, want a 6-node cluster with 3:\n%s", len(masters), banner)
	}
	var ids []string
	for i := range 30 {
		r := strategytest.Post(t, base, strategytest.MailJSON(fmt.Sprintf("cluster %d", i)), "")
		if r.Code != http.StatusAccepted {
			t.Fatalf("job %d: %d %v", i, r.Code, r.Body)
		}
		ids = append(ids, r.Body["id"].(string))
	}
	strategytest.WaitDelivered(t, sink, ids, 20*time.Second)
	// --shards 3 reached the web side: its metrics name three shards.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(body), "offload_queue_shard_length{"); n != 3 {
		t.Errorf("web /metrics shows %d shards, want 3 (one per master)", n)
	}
	var pids []int
	for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(banner, -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 30*time.Second, "offload run to exit on SIGINT", p.Exited)
	for _, pid := range pids {
		itest.Eventually(t, 5*time.Second, fmt.Sprintf("process %d to be gone", pid), func() bool {
			return syscall.Kill(pid, 0) == syscall.ESRCH
		})
	}
}
