package strategytest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/offload/offload/internal/httpapi"
)

// badRequest is one hostile request and what the edge must answer.
type badRequest struct {
	name   string
	method string
	path   string
	ctype  string
	body   string
	key    string
	code   int
	field  string // a 400's "field"; for any other code, a word its error must contain
	allow  string // the Allow header a 405 must carry
}

const jsonType = "application/json"

func badRequests() []badRequest {
	post := func(name, body, field string) badRequest {
		return badRequest{name: name, method: "POST", path: "/jobs", ctype: jsonType, body: body, code: 400, field: field}
	}
	talk := func(name, path, field string) badRequest {
		return badRequest{name: name, method: "GET", path: path, code: 400, field: field}
	}
	good := MailJSON("x")
	return []badRequest{
		{name: "no Content-Type", method: "POST", path: "/jobs", body: good, code: 415, field: "Content-Type"},
		{name: "text/plain", method: "POST", path: "/jobs", ctype: "text/plain", body: good, code: 415, field: "text/plain"},
		{name: "form", method: "POST", path: "/jobs", ctype: "application/x-www-form-urlencoded", body: good, code: 415, field: "application/json"},
		post("malformed JSON", `{"to":`, "body"),
		post("missing address", `{"subject":"hi"}`, "to"),
		post("invalid address", `{"to":"nobody"}`, "to"),
		post("CRLF in subject", `{"to":"a@example.org","subject":"hi\r\nBcc: x@evil.org"}`, "subject"),
		post("unknown kind", `{"to":"a@example.org","kind":"gpu"}`, "kind"),
		post("negative cost", `{"to":"a@example.org","kind":"cpu","cost_ms":-5}`, "cost_ms"),
		post("unknown field", `{"to":"a@example.org","bcc":"x@evil.org"}`, "bcc"),
		post("duplicate to", `{"to":"a@example.org","to":"b@example.org"}`, "to"),
		post("duplicate subject", `{"to":"a@example.org","subject":"a","subject":"b"}`, "subject"),
		post("to not UTF-8", "{\"to\":\"a\xff@example.org\"}", "to"),
		post("subject not UTF-8", "{\"to\":\"a@example.org\",\"subject\":\"caf\xc3\"}", "subject"),
		post("text not UTF-8", "{\"to\":\"a@example.org\",\"text\":\"\xed\xa0\x80\"}", "text"),
		post("kind not UTF-8", "{\"to\":\"a@example.org\",\"kind\":\"io\xfe\"}", "kind"),
		post("lone surrogate", `{"to":"a@example.org","subject":"\ud800"}`, "subject"),
		{name: "Idempotency-Key not UTF-8", method: "POST", path: "/jobs", ctype: jsonType, body: good, key: "k\xff", code: 400, field: "Idempotency-Key"},
		{name: "bad Idempotency-Key", method: "POST", path: "/jobs", ctype: jsonType, body: good, key: "no spaces allowed", code: 400, field: "Idempotency-Key"},
		{name: "2 MiB body", method: "POST", path: "/jobs", ctype: jsonType, body: `{"to":"a@example.org","text":"` + strings.Repeat("x", 2<<20) + `"}`, code: 413},
		talk("talk form: to not UTF-8", "/a%ff@example.org/hi/x", "to"),
		talk("talk form: subject not UTF-8", "/a@example.org/%ff/x", "subject"),
		talk("talk form: text not UTF-8", "/a@example.org/hi/%c3", "text"),
		talk("talk form: CRLF in subject", "/a@example.org/"+url.PathEscape("hi\r\nBcc: x@evil.org")+"/x", "subject"),
		{name: "no such route", method: "GET", path: "/no/such", code: 404, field: "/no/such"},
		{name: "wrong method", method: "DELETE", path: "/jobs", code: 405, field: "DELETE", allow: "POST"},
		{name: "wrong method on a probe", method: "POST", path: "/healthz", ctype: jsonType, body: "{}", code: 405, field: "POST", allow: "GET, HEAD"},
	}
}

// rejectsBadInput sends every hostile request, checks each answer, then
// shows with one good job that the sink received nothing else.
func rejectsBadInput(t *testing.T, s Setup) {
	before := s.Sink.Stats().Received
	for _, tt := range badRequests() {
		t.Run(tt.name, func(t *testing.T) {
			r := Send(t, s.URL, tt.method, tt.path, tt.ctype, tt.body, tt.key)
			msg, _ := r.Body["error"].(string)
			if r.Code != tt.code {
				t.Fatalf("status = %d, want %d (%v)", r.Code, tt.code, r.Body)
			}
			if r.Header.Get("Content-Type") != jsonType || msg == "" {
				t.Fatalf("want a JSON error, got Content-Type %q, body %v", r.Header.Get("Content-Type"), r.Body)
			}
			if f, _ := r.Body["field"].(string); tt.code == 400 && f != tt.field {
				t.Fatalf("field = %q, want %q (%v)", f, tt.field, r.Body)
			}
			if !strings.Contains(msg, tt.field) {
				t.Fatalf("error %q does not name %q", msg, tt.field)
			}
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Fatalf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
	t.Run("slow body", func(t *testing.T) { slowBody(t, s) })
	mailedOnlyTheGoodOne(t, s, before)
}

// mailedOnlyTheGoodOne sends a good job and checks it is the only mail
// the sink received since before.
func mailedOnlyTheGoodOne(t *testing.T, s Setup, before int64) {
	t.Helper()
	id := accept(t, s, Post(t, s.URL, MailJSON("after bad input"), ""))
	WaitDelivered(t, s.Sink, []string{id}, 30*time.Second)
	if got := s.Sink.Stats().Received - before; got != 1 {
		t.Fatalf("sink received %d mails, want only the good one", got)
	}
}

// slowBody trickles a body slower than the server's body timeout allows:
// the answer must be 408, or the connection closed, never 5xx or 2xx.
func slowBody(t *testing.T, s Setup) {
	timeout := s.BodyTimeout
	if _, ok := served.Load(s.URL); ok && timeout == 0 {
		timeout = ServeBodyTimeout
	} else if timeout == 0 {
		timeout = httpapi.DefaultBodyTimeout
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	body := MailJSON("trickled")
	gap := 2 * timeout / time.Duration(len(body)) // the whole body would take twice the timeout
	code, err := Trickle(t, u.Host, body, gap)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("no answer and no close: %v", err)
	}
	if err == nil && code != http.StatusRequestTimeout {
		t.Fatalf("trickled body: status %d, want 408", code)
	}
}

// Trickle sends POST /jobs to addr with body one byte per gap, and returns
// the answer's status, or the error if the connection closed first.
func Trickle(t testing.TB, addr, body string, gap time.Duration) (int, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /jobs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for i := range len(body) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(time.Duration(len(body))*gap + 10*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
