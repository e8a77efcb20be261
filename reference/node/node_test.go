// Package node_test runs the reference servers of reference/node, the talk's
// programs on real Node, as real processes against a real redis-server and
// mail sink: each must accept a job through offload's HTTP API and deliver
// its mail carrying the job's id, or the comparison against offload's Node
// loop model would compare against something that does not work.
package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/baseline"
	"github.com/offload/offload/internal/itest"
	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/internal/proc"
	"github.com/offload/offload/lagmonitor"
)

// server is one reference web server and, where the talk's program has
// one, the worker process that sends its mail.
type server struct {
	name     string // strategy name the server answers with
	script   string
	worker   []string // the worker's arguments after the script; nil: none
	wantCode int
	noMail   bool // the baseline only pushes the job to Redis
}

var servers = []server{
	{name: "baseline", script: "0-baseline.js", wantCode: http.StatusAccepted, noMail: true},
	{name: "foreground", script: "1-foreground.js", wantCode: http.StatusOK},
	{name: "fireforget", script: "2-parallel.js", wantCode: http.StatusAccepted},
	{name: "localipc", script: "3-local.js", wantCode: http.StatusAccepted},
	{name: "pubsub", script: "4-pubsub.js", worker: []string{"4-pubsub.js", "worker"}, wantCode: http.StatusAccepted},
	{name: "queue", script: "5-combined.js", worker: []string{"5-multiWorkerResque.js", "--min", "2", "--max", "2", "--timeout", "100"}, wantCode: http.StatusAccepted},
}

func TestReferenceServersDeliverTheJob(t *testing.T) {
	t.Cleanup(func() { itest.AssertNoOrphans(t) })
	node := installed(t)
	rdb := itest.Redis(t)
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			sink := itest.Sink(t, mailsink.Config{})
			common := []string{"--smtp", sink.Addr(), "--redis", rdb.URL()}
			addr := itest.FreeAddr(t)
			web := start(t, node, s.name, append([]string{s.script, "--addr", addr}, common...))
			base := "http://" + addr
			itest.WaitHTTP(t, base+"/healthz")
			if s.worker != nil {
				w := start(t, node, s.name+"-worker", append(append([]string(nil), s.worker...), common...))
				// A message published before the subscriber listens is lost.
				itest.Eventually(t, 30*time.Second, "the worker's ready line", func() bool { return strings.Contains(w.out.String(), "ready:") })
			}
			id := "ref-" + s.name + "-" + randomHex(t)
			resp := post(t, base+"/jobs", id, `{"to":"someone@example.org","subject":"welcome","text":"hello","kind":"io"}`)
			if resp.code != s.wantCode || resp.body["id"] != id || resp.body["strategy"] != s.name {
				t.Fatalf("POST /jobs = %d %v, want %d with id %s and strategy %s", resp.code, resp.body, s.wantCode, id, s.name)
			}
			if s.noMail {
				checkPushed(t, rdb.URL(), id)
			} else {
				itest.Eventually(t, 20*time.Second, "the mail of job "+id+" at the sink", func() bool {
					_, ok := sink.Delivery(id)
					return ok
				})
				if st := sink.Stats(); st.Received != 1 || st.Unique != 1 || st.NoJobID != 0 {
					t.Errorf("sink stats %+v: want exactly one mail, with X-Offload-Job %s", st, id)
				}
			}
			// A cpu job burns its cost on the thread that runs it and sends nothing.
			if cpu := post(t, base+"/jobs", id+"-cpu", `{"to":"someone@example.org","kind":"cpu","cost_ms":5}`); cpu.code != s.wantCode || cpu.body["id"] != id+"-cpu" {
				t.Errorf("POST /jobs of kind cpu = %d %v, want %d with id %s-cpu", cpu.code, cpu.body, s.wantCode, id)
			}
			if bad := post(t, base+"/jobs", "", `{"to":"not an address"}`); bad.code != http.StatusBadRequest || bad.body["field"] != "to" {
				t.Errorf("POST /jobs with a bad address = %d %v, want 400 naming the field to", bad.code, bad.body)
			}
			checkLag(t, base)
			web.stop(t)
		})
	}
}

// checkPushed wants the baseline's one LPUSH: the job, with its id, at the
// head of the list offload's own baseline pushes to.
func checkPushed(t *testing.T, url, id string) {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	head, err := rdb.LIndex(context.Background(), baseline.Key, 0).Result()
	if err != nil {
		t.Fatalf("LINDEX %s 0: %v", baseline.Key, err)
	}
	var j struct{ ID, To string }
	if err := json.Unmarshal([]byte(head), &j); err != nil || j.ID != id || j.To != "someone@example.org" {
		t.Errorf("head of %s = %q, want the job %s", baseline.Key, head, id)
	}
}

// checkLag decodes /debug/lag as offload's harness does.
func checkLag(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/debug/lag")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s lagmonitor.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("decode /debug/lag: %v", err)
	}
	if s.Loop != "nodejs" || s.IntervalMS != 20 || s.BlockThresholdMS != 10 || s.Count == 0 || s.Since.IsZero() {
		t.Errorf("/debug/lag = %+v: want loop nodejs, interval 20 ms, threshold 10 ms, some probes", s)
	}
}

type answer struct {
	code int
	body map[string]any
}

func post(t *testing.T, url, key, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("POST %s answered %d with %q: not JSON", url, resp.StatusCode, raw)
	}
	return a
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// running is a node process in its own process group.
type running struct {
	p   *proc.Process
	out *itest.Output
}

// start runs node with args in this directory. Cleanup kills its whole
// group, so a forked worker cannot outlive the test either.
func start(t *testing.T, node, name string, args []string) *running {
	t.Helper()
	out := &itest.Output{}
	p, err := proc.Start(proc.Spec{Name: name, Path: node, Args: args, Dir: dir(t), Output: out, Foreign: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		if !itest.Poll(5*time.Second, func() bool { return !p.GroupAlive() }) {
			t.Errorf("%s: process group %d still alive", name, p.PID())
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return &running{p: p, out: out}
}

// stop sends SIGTERM and wants a clean exit: the servers promise one.
func (r *running) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.p.Err(); err != nil {
		t.Errorf("%s after SIGTERM: %v, want exit status 0", r.p.Spec.Name, err)
	}
}

func dir(t *testing.T) string {
	d, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	ciOnce sync.Once
	ciErr  error
)

// installed finds node and npm (a skip, or a failure under CI=true, when
// either is missing) and installs the locked packages once, with npm ci,
// unless node_modules already holds exactly this lockfile's install.
func installed(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	itest.Need(t, lookErr("node", err))
	npm, err := exec.LookPath("npm")
	itest.Need(t, lookErr("npm", err))
	ciOnce.Do(func() { ciErr = npmCI(dir(t), npm) })
	if ciErr != nil {
		t.Fatal(ciErr)
	}
	return node
}

func lookErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s is missing (make deps installs it): %w", what, err)
}

// stamp is the lockfile npm ci last installed from; it must match exactly.
const stamp = "node_modules/.offload-lock"

func npmCI(d, npm string) error {
	lock, err := os.ReadFile(filepath.Join(d, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("read the lockfile: %w", err)
	}
	if have, err := os.ReadFile(filepath.Join(d, stamp)); err == nil && bytes.Equal(have, lock) {
		return nil
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", d, err, out)
	}
	return os.WriteFile(filepath.Join(d, stamp), lock, 0o644)
}
