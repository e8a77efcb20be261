// Package httpapi is the HTTP API every strategy sits behind, identical for
// all six: decoding, validation, ids, status codes, metrics and the lag
// monitor live here once, so a strategy only decides what Submit does.
//
// Handler code runs under the configured concurrency model: under node, the
// body is read by the server (as libuv reads sockets) and everything from
// decoding on runs on the loop, which is also charged what Node's http and
// JSON cost on its thread for each job request (eventloop.CostHTTPRequest),
// since net/http parses and writes elsewhere; under threads, a request
// worker holds the request from the first byte to the last.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/httpjson"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
)

// Config wires a Server. Strategy, Model and Monitor are required.
type Config struct {
	Strategy strategies.Strategy
	Model    eventloop.Model
	Monitor  *lagmonitor.Monitor
	Registry *prometheus.Registry // served at /metrics; default a new one
	Logger   *slog.Logger         // default slog.Default()
	// BodyTimeout bounds reading a POST body; default DefaultBodyTimeout.
	BodyTimeout time.Duration
}

// Server is the API's http.Handler.
type Server struct {
	cfg Config
	// The strategy's optional capabilities, asserted once here so that no
	// handler and no strategy asks again.
	tracker   strategies.Tracker   // nil: GET /jobs/{id} says why not
	scheduler strategies.Scheduler // nil: delay_ms is refused
	mux       *http.ServeMux
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// New builds the handler and registers its metrics.
func New(cfg Config) (*Server, error) {
	if cfg.Strategy == nil || cfg.Model == nil || cfg.Monitor == nil {
		return nil, errors.New("httpapi: strategy, model and monitor are required")
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	s := &Server{
		cfg: cfg,
		mux: http.NewServeMux(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "offload_http_requests_total",
			Help: "HTTP requests answered, by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "offload_http_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20),
		}, []string{"route"}),
	}
	collectors := []prometheus.Collector{s.requests, s.duration, cfg.Monitor}
	if c, ok := cfg.Model.(prometheus.Collector); ok { // the node loop's pool wait and I/O in flight
		collectors = append(collectors, c)
	}
	for _, c := range collectors {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	s.route("POST /jobs", s.postJob)
	s.route("GET /jobs/{id}", s.getJob)
	s.route("GET /healthz", s.healthz)
	s.route("GET /debug/lag", s.lag)
	s.route("POST /debug/lag/reset", s.lagReset)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	s.route("GET /{to}/{subject}/{text}", s.talkForm)
	s.tracker, _ = cfg.Strategy.(strategies.Tracker)
	s.scheduler, _ = cfg.Strategy.(strategies.Scheduler)
	return s, nil
}

// statusWriter remembers the code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) route(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h(sw, r)
		s.requests.WithLabelValues(pattern, strconv.Itoa(sw.code)).Inc()
		s.duration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}

// NewHTTPServer wraps h with timeouts that keep slow or idle clients from
// holding connections forever. WriteTimeout is generous: a foreground cpu
// job may legitimately take seconds. ReadTimeout is only a backstop: the
// API bounds a POST body itself (Config.BodyTimeout) and answers 408,
// where the server's own timeout would surface as a failed read.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// errorBody is every error response's JSON.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// writeJSON is the one JSON answer every server in offload gives.
func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }

// writeError maps err to a status code and a JSON body that says what failed.
func writeError(w http.ResponseWriter, err error) {
	var fe *job.FieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: fe.Error(), Field: fe.Field})
	case errors.Is(err, errMediaType):
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{Error: err.Error()})
	case errors.Is(err, errSlowBody):
		w.Header().Set("Connection", "close")
		writeJSON(w, http.StatusRequestTimeout, errorBody{Error: err.Error()})
	case errors.Is(err, job.ErrTooLarge) || errors.As(err, &mbe):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Error: fmt.Sprintf("request body too large: limit is %d bytes", job.MaxBodyBytes)})
	case errors.Is(err, strategies.ErrUnsupported):
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
	case errors.Is(err, strategies.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: err.Error()})
	case errors.Is(err, strategies.ErrDelivery):
		writeJSON(w, http.StatusBadGateway, errorBody{Error: err.Error()})
	case errors.Is(err, strategies.ErrNotTracked), errors.Is(err, strategies.ErrUnknownJob):
		writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error()})
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "request ended before the server could answer: " + err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
	}
}
