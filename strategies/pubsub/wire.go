package pubsub

import (
	"encoding/json"

	"github.com/offload/offload/internal/job"
)

// wire is every message between the web side's ROUTER and a worker's
// DEALER, one JSON frame each (the ROUTER adds and strips the identity).
type wire struct {
	// Type: "job" (web -> worker), "hb" (worker -> web: alive, and its
	// credit), "ack" (worker -> web: a job finished).
	Type   string   `json:"type"`
	Credit int      `json:"credit,omitempty"` // hb: jobs the worker takes at once
	ID     string   `json:"id,omitempty"`     // ack
	OK     bool     `json:"ok,omitempty"`     // ack: delivered (else failed for good)
	Error  string   `json:"error,omitempty"`  // ack
	Job    *job.Job `json:"job,omitempty"`    // job
}

func (w wire) encode() []byte {
	b, _ := json.Marshal(w) // plain struct: cannot fail
	return b
}
