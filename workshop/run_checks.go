package workshop

import (
	"context"
	"fmt"
	"time"
)

// CheckFirstMail is exercise 1: foreground at Addr and fireforget at Addr2,
// each having accepted mail; it then times one mail to each itself.
func CheckFirstMail(ctx context.Context, o Options) (string, error) {
	o = o.withDefaults()
	servers := []struct{ addr, want string }{{o.Addr, "foreground"}, {o.Addr2, "fireforget"}}
	took := make([]time.Duration, len(servers))
	for i, s := range servers {
		start := fmt.Sprintf("in another terminal: offload run --strategy %s --addr %s", s.want, s.addr)
		h, err := probeServer(ctx, s.addr, start)
		if err != nil {
			return "", err
		}
		if h.Strategy != s.want {
			return "", hintf(start, "the server at %s runs %q; exercise 1 wants %s there", s.addr, h.Strategy, s.want)
		}
		n, err := jobsAccepted(ctx, s.addr)
		if err != nil {
			return "", err
		}
		if n == 0 {
			return "", hintf(fmt.Sprintf(`curl -s -X POST http://%s/jobs -H 'Content-Type: application/json' -d '{"to":"you@example.org","subject":"hi","text":"hello"}'`, s.addr),
				"%s at %s is running but has accepted no mail yet: send it some", s.want, s.addr)
		}
		d, code, err := timeMail(ctx, s.addr, "exercise 1 check")
		if err != nil || code/100 != 2 {
			return "", hintf("look at the server's log", "a mail to %s %s failed: status %d, %v", s.want, s.addr, code, err)
		}
		took[i] = d
	}
	return fmt.Sprintf("foreground answered in %s: after the mail server took the mail (status 200, done).\n"+
		"fireforget answered in %s: before it was sent (status 202, accepted).\n"+
		"Exercise 2 asks what the fast answer costs.", ms(took[0]), ms(took[1])), nil
}

// lagSnapshot is the part of GET /debug/lag the checks read.
type lagSnapshot struct {
	Loop   string  `json:"loop"`
	Count  int64   `json:"count"`
	Blocks int64   `json:"blocks"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
}

// blockedMS is how long the loop must have been held for exercise 2.
const blockedMS = 100

// CheckBlockedLoop is exercise 2: the server at Addr runs the node loop and
// its lag monitor saw the loop blocked for at least blockedMS.
func CheckBlockedLoop(ctx context.Context, o Options) (string, error) {
	o = o.withDefaults()
	h, err := probeServer(ctx, o.Addr, "in another terminal: offload run --strategy foreground --addr "+o.Addr)
	if err != nil {
		return "", err
	}
	var lag lagSnapshot
	if code, err := getJSON(ctx, "http://"+o.Addr+"/debug/lag", &lag); err != nil || code != 200 {
		return "", fmt.Errorf("read /debug/lag at %s: status %d, %v", o.Addr, code, err)
	}
	if h.Loop != "node" {
		return "", hintf("restart it without --loop (node is the default) and send the cpu job again",
			"the server at %s runs --loop %s: there a cpu job holds only its own goroutine, so the lag monitor sees no block (max %.1f ms)", o.Addr, h.Loop, lag.Max)
	}
	if lag.Max < blockedMS {
		return "", hintf(fmt.Sprintf(`curl -s -X POST http://%s/jobs -H 'Content-Type: application/json' -d '{"to":"you@example.org","kind":"cpu","cost_ms":500}' & curl -s -w '%%{time_total}s\n' http://%s/healthz`, o.Addr, o.Addr),
			"the loop at %s was never blocked: the worst lag since the last reset is %.1f ms (%s, %d probes). Send a cpu job and, at the same time, a probe", o.Addr, lag.Max, h.Strategy, lag.Count)
	}
	return fmt.Sprintf("the %s server's loop was blocked for up to %.0f ms (%d probe(s) late by more than 10 ms).\n"+
		"While it was, every client waited: /healthz included. Exercise 3 moves that work off the loop.", h.Strategy, lag.Max, lag.Blocks), nil
}
