package liveview

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// RunActions are the hooks behind the buttons that need more than HTTP:
// `offload run` owns the processes. A nil hook leaves its button out.
type RunActions struct {
	KillWorker   func() (role string, pid int, err error) // SIGKILL one worker, as a crash would
	WorkerPID    func() int                               // the pid KillWorker would kill (0: none)
	RestartRedis func(ctx context.Context) error
	RedisCommand string // the shell equivalent of RestartRedis
}

// mailJSON is the body every sent mail uses: the same as the banner's curl.
const mailJSON = `{"to":"you@example.org","subject":"hi","text":"hello from the live page"}`

// cpuJSON is a job that holds whatever runs it for 1.5 s of CPU.
const cpuJSON = `{"to":"you@example.org","subject":"cpu","text":"burn","kind":"cpu","cost_ms":1500}`

func runActions(c *collector, hooks RunActions) []Action {
	web := c.cfg.WebURL
	curl := func(body string) string {
		return fmt.Sprintf("curl -s -X POST %s/jobs -H 'Content-Type: application/json' -d '%s'", web, body)
	}
	acts := []Action{
		{Name: "mail", Label: "Send mails",
			Command: func() string { return "for i in $(seq N); do " + curl(mailJSON) + "; done" },
			Do: func(ctx context.Context, n int) (string, error) {
				ok := 0
				for range n {
					if err := c.postJob(ctx, mailJSON); err != nil {
						return fmt.Sprintf("%d of %d accepted", ok, n), err
					}
					ok++
				}
				return fmt.Sprintf("%d accepted", ok), nil
			}},
		{Name: "cpu", Label: "Send a cpu job",
			Command: func() string { return curl(cpuJSON) },
			Do: func(ctx context.Context, _ int) (string, error) {
				if err := c.postJob(ctx, cpuJSON); err != nil {
					return "", err
				}
				c.mu.Lock()
				c.cpuJobs++
				c.mu.Unlock()
				c.mark(time.Now(), "cpu job (1.5 s) sent")
				return "accepted", nil
			}},
	}
	if h := hooks.KillWorker; h != nil {
		acts = append(acts, Action{Name: "kill", Label: "Kill a worker",
			Command: func() string {
				if pid := hooks.WorkerPID(); pid > 0 {
					return fmt.Sprintf("kill -9 %d", pid)
				}
				return "kill -9 <worker pid>"
			},
			Do: func(context.Context, int) (string, error) {
				role, pid, err := h()
				if err != nil {
					return "", err
				}
				c.mark(time.Now(), fmt.Sprintf("kill -9 %s (pid %d) from the page", role, pid))
				return fmt.Sprintf("killed %s (pid %d)", role, pid), nil
			}})
	}
	if h := hooks.RestartRedis; h != nil {
		acts = append(acts, Action{Name: "redis", Label: "Restart Redis",
			Command: func() string { return hooks.RedisCommand },
			Do: func(ctx context.Context, _ int) (string, error) {
				c.mark(time.Now(), "redis restart from the page")
				if err := h(ctx); err != nil {
					return "", err
				}
				return "redis restarted", nil
			}})
	}
	return acts
}

func (c *collector) postJob(ctx context.Context, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.WebURL+"/jobs", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req) // ctx bounds it: a foreground cpu job answers late
	if err != nil {
		return fmt.Errorf("post /jobs: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("post /jobs: %s %s", resp.Status, bytes.TrimSpace(b))
	}
	return nil
}
