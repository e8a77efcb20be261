package mailsink

import (
	"net/http"
	"strconv"
	"time"

	"github.com/offload/offload/internal/httpjson"
)

// Handler serves the sink's record as JSON:
//
//	GET  /stats              counters
//	GET  /deliveries         every delivery, ordered by first arrival
//	GET  /deliveries/{id}    one job id (404 when never delivered)
//	POST /outage?for=5s      answer 451 to everything for a while (for=0 ends it)
//	POST /rate-limit?per_second=R   answer 454 beyond R mails/s (0 lifts the limit)
//	POST /max-conns?n=N      answer 421 beyond N connections (0 lifts the limit)
func (s *Sink) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("GET /deliveries", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Deliveries())
	})
	mux.HandleFunc("GET /deliveries/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := s.Delivery(r.PathValue("id"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no mail received for this job id"})
			return
		}
		writeJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("POST /outage", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("for"))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "for: give a duration like 5s"})
			return
		}
		s.Outage(d)
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST /rate-limit", func(w http.ResponseWriter, r *http.Request) {
		rate, err := strconv.ParseFloat(r.URL.Query().Get("per_second"), 64)
		if err == nil {
			err = s.SetRateLimit(rate)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "per_second: give mails per second, 0 or more (0 lifts the limit)"})
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST /max-conns", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "n: give a connection count, 0 or more (0 lifts the limit)"})
			return
		}
		s.SetMaxConns(n)
		writeJSON(w, http.StatusOK, s.Stats())
	})
	return mux
}

// writeJSON is the one JSON answer every server in offload gives.
func writeJSON(w http.ResponseWriter, code int, v any) { httpjson.Write(w, code, v) }
