package liveview

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func startServer(t *testing.T, readOnly, public bool) (*Server, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(ln, "test", readOnly, public, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var calls atomic.Int32
	s.SetActions([]Action{{Name: "mail", Label: "Send", Command: func() string { return "curl" },
		Do: func(context.Context, int) (string, error) { calls.Add(1); return "ok", nil }}})
	return s, &calls
}

func TestListenRefusesBeyondLoopback(t *testing.T) {
	for _, tt := range []struct {
		addr    string
		public  bool
		wantErr string
	}{
		{"127.0.0.1:0", false, ""},
		{"localhost:0", false, ""},
		{"[::1]:0", false, ""},
		{"0.0.0.0:0", false, "--ui-public"},
		{":0", false, "--ui-public"},
		{"0.0.0.0:0", true, ""},
		{"nonsense", false, "want host:port or off"},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			ln, err := Flags{Addr: tt.addr, Public: tt.public}.Listen()
			if ln != nil {
				ln.Close()
			}
			if tt.wantErr == "" {
				if err != nil && !strings.Contains(err.Error(), "cannot assign") { // no IPv6 here
					t.Fatalf("Listen: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Listen(%s) = %v, want an error mentioning %q", tt.addr, err, tt.wantErr)
			}
		})
	}
}

func TestActionsWantTokenOriginAndHost(t *testing.T) {
	s, calls := startServer(t, false, false)
	base := strings.TrimSuffix(s.URL(), "/")
	host := strings.TrimPrefix(base, "http://")
	for _, tt := range []struct {
		name   string
		host   string
		origin string
		token  string
		path   string
		want   int
	}{
		{"good", "", "", s.token, "/actions/mail", http.StatusOK},
		{"same origin", "", base, s.token, "/actions/mail?n=3", http.StatusOK},
		{"no token", "", "", "", "/actions/mail", http.StatusForbidden},
		{"wrong token", "", "", "x" + s.token, "/actions/mail", http.StatusForbidden},
		{"other origin", "", "http://evil.example", s.token, "/actions/mail", http.StatusForbidden},
		{"rebound host", "evil.example:" + host[strings.LastIndex(host, ":")+1:], "", s.token, "/actions/mail", http.StatusForbidden},
		{"unknown action", "", "", s.token, "/actions/nuke", http.StatusNotFound},
		{"bad n", "", "", s.token, "/actions/mail?n=0", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			req, _ := http.NewRequest(http.MethodPost, base+tt.path, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.token != "" {
				req.Header.Set("X-Offload-Token", tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if ran := calls.Load() > before; ran != (tt.want == http.StatusOK) {
				t.Fatalf("action ran: %v with status %d", ran, resp.StatusCode)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("CORS header sent")
			}
		})
	}
}

func TestReadOnlyAndPublicPagesHaveNoActions(t *testing.T) {
	for _, tt := range []struct {
		name             string
		readOnly, public bool
	}{{"readonly", true, false}, {"public", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			s, calls := startServer(t, tt.readOnly, tt.public)
			req, _ := http.NewRequest(http.MethodPost, s.URL()+"actions/mail", nil)
			req.Header.Set("X-Offload-Token", s.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || calls.Load() != 0 {
				t.Fatalf("status %d, %d calls; want 403 and none", resp.StatusCode, calls.Load())
			}
			page := get(t, s.URL())
			if strings.Contains(page, s.token) {
				t.Fatal("a read-only page carries the token")
			}
		})
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("Content-Security-Policy = %q", csp)
	}
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

// A page that reconnects with Last-Event-ID gets the kept events after it,
// and a retry hint first.
func TestEventsReplayAfterLastEventID(t *testing.T) {
	s, _ := startServer(t, false, false)
	for range 3 {
		s.Publish(Event{Time: time.Now(), Mode: "run"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"events", nil)
	req.Header.Set("Last-Event-ID", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for len(lines) < 5 && sc.Scan() {
		if l := sc.Text(); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 5 || lines[0] != "retry: 1000" || lines[1] != "id: 2" || lines[3] != "id: 3" {
		t.Fatalf("stream began %q; want retry, then events 2 and 3", lines)
	}
	if !strings.Contains(lines[2], `"accepted":0`) || !strings.Contains(lines[2], `"processes":[]`) {
		t.Fatalf("event lacks the contract's fields: %s", lines[2])
	}
}

func TestHubKeepsHistory(t *testing.T) {
	h := newHub()
	for range History + 10 {
		h.publish(Event{})
	}
	past, ch := h.subscribe(0)
	defer h.unsubscribe(ch)
	if len(past) != History || past[0].Seq != 11 || past[len(past)-1].Seq != History+10 {
		t.Fatalf("kept %d events from %d; want the last %d", len(past), past[0].Seq, History)
	}
}
