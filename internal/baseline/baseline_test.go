package baseline_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/offload/offload/internal/baseline"
	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/itest"
)

func TestAcceptsAfterOnePush(t *testing.T) {
	srv := itest.Redis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	h := httptest.NewServer(baseline.Handler(rdb))
	t.Cleanup(h.Close)

	tests := []struct {
		name, method, path, body string
		want                     int
		pushed                   int64
	}{
		{"job", http.MethodPost, "/jobs", `{"to":"a@example.org"}`, http.StatusAccepted, 1},
		{"health", http.MethodGet, "/healthz", "", http.StatusOK, 1},
		{"too large", http.MethodPost, "/jobs", strings.Repeat("x", 70<<10), http.StatusBadRequest, 1},
		{"wrong method", http.MethodGet, "/jobs", "", http.StatusMethodNotAllowed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, h.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if n := rdb.LLen(context.Background(), baseline.Key).Val(); n != tc.pushed {
				t.Fatalf("list holds %d, want %d", n, tc.pushed)
			}
		})
	}
}

func TestRedisDownIs503(t *testing.T) {
	srv := itest.Redis(t)
	opt, _ := redis.ParseURL(srv.URL())
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	h := httptest.NewServer(baseline.Handler(rdb))
	t.Cleanup(h.Close)
	srv.Close()
	resp, err := http.Post(h.URL+"/jobs", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d with redis gone, want 503", resp.StatusCode)
	}
}

// Under the node loop model the same row answers the same way, and the
// loop pays Node's cost of each request and each LPUSH.
func TestNodeHandlerAcceptsAfterOnePushAndChargesTheLoop(t *testing.T) {
	srv := itest.Redis(t)
	opt, err := redis.ParseURL(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	loop := eventloop.NewLoop(0)
	t.Cleanup(loop.Close)
	h := httptest.NewServer(baseline.NodeHandler(rdb, loop))
	t.Cleanup(h.Close)
	const jobs = 20
	for range jobs {
		resp, err := http.Post(h.URL+"/jobs", "application/json", strings.NewReader(`{"to":"a@example.org"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202", resp.StatusCode)
		}
	}
	if n := rdb.LLen(context.Background(), baseline.Key).Val(); n != jobs {
		t.Fatalf("list holds %d, want %d", n, jobs)
	}
	want := jobs * (eventloop.CostHTTPRequest + eventloop.CostRedisCommand).Seconds()
	if got := charged(t, loop); got < want*0.999 {
		t.Fatalf("loop charged %.6f s for %d requests, want %.6f s", got, jobs, want)
	}
	srv.Close()
	resp, err := http.Post(h.URL+"/jobs", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d with redis gone, want 503", resp.StatusCode)
	}
}

func charged(t *testing.T, loop *eventloop.Loop) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(loop)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "offload_loop_charged_cpu_seconds_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no offload_loop_charged_cpu_seconds_total")
	return 0
}
