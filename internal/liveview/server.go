package liveview

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/offload/offload/internal/httpjson"
)

//go:embed assets
var assets embed.FS

// Action is a button on the page that does what the workshop does by hand.
type Action struct {
	Name    string                                           // URL path segment: POST /actions/{name}
	Label   string                                           // the button
	Command func() string                                    // the equivalent shell command, shown beside it
	Do      func(ctx context.Context, n int) (string, error) // n is the page's count field
}

// ActionInfo is an action as the page lists it.
type ActionInfo struct {
	Name    string `json:"name"`
	Label   string `json:"label"`
	Command string `json:"command"`
}

// Server serves the page, its event stream and its actions.
type Server struct {
	hub      *hub
	ln       net.Listener
	srv      *http.Server
	token    string
	readOnly bool
	public   bool
	title    string
	log      *slog.Logger

	quit      chan struct{} // closed by Close: streams flush and end
	closeOnce sync.Once
	streams   sync.WaitGroup

	mu      sync.Mutex
	actions []Action
	report  http.Handler // bench: the results directory, once written
}

// NewServer serves on ln. Actions are refused when readOnly or public.
func NewServer(ln net.Listener, title string, readOnly, public bool, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("liveview token: %w", err)
	}
	s := &Server{hub: newHub(), ln: ln, token: hex.EncodeToString(b), readOnly: readOnly || public,
		public: public, title: title, log: log, quit: make(chan struct{})}
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.HandleFunc("GET /{$}", s.page)
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(static)))
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("POST /actions/{name}", s.action)
	mux.HandleFunc("GET /report/", s.serveReport)
	// No WriteTimeout: the event stream stays open for as long as the page.
	s.srv = &http.Server{Handler: s.guard(mux), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the page's address.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// ReadOnly reports whether actions are refused.
func (s *Server) ReadOnly() bool { return s.readOnly }

// Close ends every open event stream once it has written what was
// published (the bench's last event carries the report link), then stops
// serving. An open stream never goes idle, so http.Server.Shutdown alone
// would only wait for it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.quit) })
	done := make(chan struct{})
	go func() { s.streams.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
	}
	return s.srv.Close()
}

// SetActions replaces the page's buttons.
func (s *Server) SetActions(a []Action) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions = a
}

func (s *Server) actionInfos() []ActionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		return nil
	}
	out := make([]ActionInfo, 0, len(s.actions))
	for _, a := range s.actions {
		out = append(out, ActionInfo{Name: a.Name, Label: a.Label, Command: a.Command()})
	}
	return out
}

// Publish sends ev to every open page and keeps it for those that open later.
func (s *Server) Publish(ev Event) {
	ev.Actions = s.actionInfos()
	if ev.Processes == nil {
		ev.Processes = []Process{}
	}
	if ev.LagMS == nil {
		ev.LagMS = map[string]float64{}
	}
	s.hub.publish(ev)
}

// guard refuses requests whose Host is not this server's (a DNS-rebinding
// page elsewhere would name its own host) and sets the headers that keep
// the page from loading or sending anything beyond its own origin.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.public && !s.localHost(r.Host) {
			httpError(w, http.StatusForbidden, "host "+strconv.Quote(r.Host)+" is not this page's address")
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) localHost(host string) bool {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return false
	}
	_, own, _ := net.SplitHostPort(s.ln.Addr().String())
	return port == own && loopbackHost(h)
}

var pageTmpl = template.Must(template.ParseFS(assets, "assets/index.html"))

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	token := s.token
	if s.readOnly {
		token = ""
	}
	if err := pageTmpl.Execute(w, map[string]any{"Title": s.title, "Token": token, "ReadOnly": s.readOnly}); err != nil {
		s.log.Warn("live page", "err", err)
	}
}

// events streams the kept history after Last-Event-ID, then every new
// event, until the page goes away. retry tells EventSource how soon to
// reconnect when the stream breaks.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		httpError(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	s.streams.Add(1)
	defer s.streams.Done()
	after, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	past, ch := s.hub.subscribe(after)
	defer s.hub.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return
	}
	for _, ev := range past {
		if writeEvent(w, ev) != nil {
			return
		}
	}
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.quit:
			for {
				select {
				case ev := <-ch:
					if writeEvent(w, ev) != nil {
						return
					}
				default:
					fl.Flush()
					return
				}
			}
		case ev := <-ch:
			if writeEvent(w, ev) != nil {
				return
			}
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.Seq, b)
	return err
}

// action runs one button. It wants the page's token in X-Offload-Token: a
// custom header no other origin can send without a CORS preflight, which
// this server never answers. A browser's Origin, when sent, must be ours.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	if s.readOnly {
		httpError(w, http.StatusForbidden, "this page is read-only")
		return
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !loopbackHost(host) {
		httpError(w, http.StatusForbidden, "actions are for loopback clients only")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		httpError(w, http.StatusForbidden, "origin "+strconv.Quote(o)+" is not this page's")
		return
	}
	if r.Header.Get("X-Offload-Token") != s.token {
		httpError(w, http.StatusForbidden, "missing or wrong X-Offload-Token")
		return
	}
	name := r.PathValue("name")
	var act *Action
	s.mu.Lock()
	for i := range s.actions {
		if s.actions[i].Name == name {
			act = &s.actions[i]
		}
	}
	s.mu.Unlock()
	if act == nil {
		httpError(w, http.StatusNotFound, "no action "+strconv.Quote(name))
		return
	}
	n := 1
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			httpError(w, http.StatusBadRequest, "n: want a whole number from 1 to 1000")
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	msg, err := act.Do(ctx, n)
	if err != nil {
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "done", "result": msg})
}

// SetReport serves dir under /report/ (bench: once report.html is written).
func (s *Server) SetReport(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.report = http.StripPrefix("/report/", http.FileServer(http.Dir(dir)))
}

func (s *Server) serveReport(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.report
	s.mu.Unlock()
	if h == nil {
		httpError(w, http.StatusNotFound, "no report yet: the bench is still running")
		return
	}
	// report.html carries its styles inline; it still loads nothing from elsewhere.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	h.ServeHTTP(w, r)
}

// writeJSON is the one JSON answer every server in offload gives.
func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
