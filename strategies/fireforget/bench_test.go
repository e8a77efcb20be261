package fireforget_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/offload/offload/internal/mailsink"
	"github.com/offload/offload/strategies"
	"github.com/offload/offload/strategies/fireforget"
	"github.com/offload/offload/strategies/strategytest"
)

// BenchmarkAccept is the request -> 202 path of the web side under each
// loop model: decode, validate, hand over, answer. The mail goes to a sink
// with no delay, after the answer.
func BenchmarkAccept(b *testing.B) {
	for _, loop := range []string{"node", "go"} {
		b.Run(loop, func(b *testing.B) {
			sink, err := mailsink.Start(mailsink.Config{})
			if err != nil {
				b.Fatal(err)
			}
			// Registered before Serve's cleanup so it runs after it: the jobs
			// accepted during the benchmark drain into a live sink.
			b.Cleanup(func() { _ = sink.Close() })
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			s, err := fireforget.New(strategies.Config{SMTPAddr: sink.Addr(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			url := strategytest.Serve(b, s, loop) + "/jobs"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections() // else the server's Close waits for them
			body := strategytest.MailJSON("bench")
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Post(url, "application/json", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}
