package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/offload/offload/internal/eventloop"
	"github.com/offload/offload/internal/job"
	"github.com/offload/offload/lagmonitor"
	"github.com/offload/offload/strategies"
)

// jobResponse is the body of 200 and 202 answers to a submitted job.
type jobResponse struct {
	ID       string            `json:"id"`
	Strategy string            `json:"strategy"`
	Status   strategies.Status `json:"status"`
}

func (s *Server) postJob(w http.ResponseWriter, r *http.Request) {
	if err := checkMediaType(r.Header.Get("Content-Type")); err != nil {
		writeError(w, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var body []byte
	var readErr error
	inside := s.cfg.Model.Name() == "threads" // a thread holds its request from the first byte
	if !inside {
		if body, readErr = s.readBody(w, r); readErr != nil {
			writeError(w, readErr)
			return
		}
	} else {
		// net/http cancels the request's context when a body read fails;
		// the handler must still be awaited to learn why (408, 413, 400).
		// The wait is bounded: the read has its deadline.
		r = r.WithContext(context.WithoutCancel(r.Context()))
	}
	s.submit(w, r, func() (job.Job, error) {
		if inside {
			if body, readErr = s.readBody(w, r); readErr != nil {
				return job.Job{}, readErr
			}
		}
		return job.Decode(bytes.NewReader(body), key)
	})
}

// talkForm is the talk's GET /{to}/{subject}/{text}, so its curl lines work.
func (s *Server) talkForm(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	s.submit(w, r, func() (job.Job, error) {
		return job.FromParts(r.PathValue("to"), r.PathValue("subject"), r.PathValue("text"), key)
	})
}

// submit runs decode and the strategy's Submit as handler code and writes
// the outcome.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, decode func() (job.Job, error)) {
	var (
		j   job.Job
		out strategies.Outcome
	)
	err := s.cfg.Model.Handle(r.Context(), func(rt strategies.Runtime, done func()) {
		eventloop.Charge(rt, eventloop.CostHTTPRequest) // Node's parse, JSON and write, on its thread
		var err error
		if j, err = decode(); err != nil {
			out.Err = err
			done()
			return
		}
		j.Accepted = time.Now()
		reply := func(o strategies.Outcome) {
			out = o
			done()
		}
		switch {
		case j.DelayMS == 0:
			s.cfg.Strategy.Submit(rt, j, reply)
		case s.scheduler != nil:
			s.scheduler.SubmitAt(rt, j, j.Accepted.Add(time.Duration(j.DelayMS)*time.Millisecond), reply)
		default:
			reply(strategies.Outcome{Err: &job.FieldError{Field: "delay_ms",
				Reason: fmt.Sprintf("strategy %s cannot delay jobs: leave delay_ms out, or use a strategy that schedules", s.cfg.Strategy.Name())}})
		}
	})
	if err != nil {
		writeError(w, err)
		return
	}
	if out.Err != nil {
		writeError(w, out.Err)
		return
	}
	resp := map[string]any{}
	for k, v := range out.Extra {
		resp[k] = v
	}
	resp["id"], resp["strategy"], resp["status"] = j.ID, s.cfg.Strategy.Name(), out.Status
	code := http.StatusAccepted
	if out.Status == strategies.StatusDone {
		code = http.StatusOK
	}
	writeJSON(w, code, resp)
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := job.ValidateID(id); err != nil {
		writeError(w, &job.FieldError{Field: "id", Reason: err.Error()})
		return
	}
	tr := s.tracker
	if tr == nil {
		writeError(w, fmt.Errorf("%w: strategy %s keeps no record of a job once it is handed over, so it cannot say what became of one", strategies.ErrNotTracked, s.cfg.Strategy.Name()))
		return
	}
	var (
		st    strategies.JobState
		stErr error
	)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err := s.cfg.Model.Handle(r.Context(), func(rt strategies.Runtime, done func()) {
		eventloop.Charge(rt, eventloop.CostHTTPRequest)
		// A tracker reads a record, over the network where it keeps one
		// (Redis): the I/O path.
		rt.IO(func() error {
			st, stErr = tr.State(ctx, id)
			return stErr
		}, func(error) { done() })
	})
	if err == nil {
		err = stErr
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// healthz answers from handler code, so its latency shows a blocked loop.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	err := s.cfg.Model.Handle(r.Context(), func(_ strategies.Runtime, done func()) { done() })
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "strategy": s.cfg.Strategy.Name(), "loop": s.cfg.Model.Name()})
}

// lag is served off the loop: the instrument must not wait for the patient.
func (s *Server) lag(w http.ResponseWriter, r *http.Request) {
	since, ok, err := lagmonitor.SinceParam(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error(), Field: "since"})
		return
	}
	snap := s.cfg.Monitor.Snapshot()
	snap.Loop = s.cfg.Model.Name()
	if ok {
		snap.TrimBefore(since)
	}
	writeJSON(w, http.StatusOK, snap)
}

func (s *Server) lagReset(w http.ResponseWriter, r *http.Request) {
	s.cfg.Monitor.Reset()
	writeJSON(w, http.StatusOK, map[string]string{"status": "reset"})
}
