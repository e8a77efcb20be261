package lagmonitor

import (
	"net/http"

	"github.com/offload/offload/internal/httpjson"
)

// Handler serves GET /debug/lag: m's snapshot, labelled with the loop it
// probes, trimmed to ?since= when given. It runs off the monitored loop:
// the instrument must not wait for the patient.
func Handler(m *Monitor, loop string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since, ok, err := SinceParam(r)
		if err != nil {
			httpjson.Write(w, http.StatusBadRequest, httpjson.ErrorBody{Error: err.Error(), Field: "since"})
			return
		}
		snap := m.Snapshot()
		snap.Loop = loop
		if ok {
			snap.TrimBefore(since)
		}
		httpjson.Write(w, http.StatusOK, snap)
	})
}

// ResetHandler serves POST /debug/lag/reset: the harness starts each
// measurement from zero.
func ResetHandler(m *Monitor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Reset()
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "reset"})
	})
}
