package workshop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var client = &http.Client{Timeout: 10 * time.Second}

// getJSON fetches url into v and returns the status code.
func getJSON(ctx context.Context, url string, v any) (int, error) {
	return doJSON(ctx, http.MethodGet, url, "", v)
}

// doJSON sends body (if any) and decodes a JSON answer into v.
func doJSON(ctx context.Context, method, url, body string, v any) (int, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read %s: %w", url, err)
	}
	if v != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, v); err != nil {
			return resp.StatusCode, fmt.Errorf("%s answered %q, not JSON: %w", url, raw, err)
		}
	}
	return resp.StatusCode, nil
}

// health is GET /healthz.
type health struct {
	Strategy string `json:"strategy"`
	Loop     string `json:"loop"`
}

// probeServer asks addr who it is; a Hint says how to start one.
func probeServer(ctx context.Context, addr, start string) (health, error) {
	var h health
	code, err := getJSON(ctx, "http://"+addr+"/healthz", &h)
	if err != nil {
		return h, hintf(start, "nothing answers at http://%s/healthz (%v)", addr, err)
	}
	if code != http.StatusOK {
		return h, hintf(start, "http://%s/healthz answered %d; is that an offload server?", addr, code)
	}
	return h, nil
}

// jobsAccepted counts the 2xx answers to submitted jobs in addr's /metrics
// (POST /jobs and the talk's URL form).
func jobsAccepted(ctx context.Context, addr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "offload_http_requests_total{") || !strings.Contains(line, `code="2`) {
			continue
		}
		if !strings.Contains(line, `route="POST /jobs"`) && !strings.Contains(line, `route="GET /{to}/{subject}/{text}"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			n += int(v)
		}
	}
	return n, sc.Err()
}

// timeMail sends one mail to addr and returns how long the answer took.
func timeMail(ctx context.Context, addr, subject string) (time.Duration, int, error) {
	body := fmt.Sprintf(`{"to":"check@example.org","subject":%q,"text":"sent by offload exercise check"}`, subject)
	t0 := time.Now()
	code, err := doJSON(ctx, http.MethodPost, "http://"+addr+"/jobs", body, nil)
	return time.Since(t0), code, err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
