// Package httpjson writes offload's JSON answers, so that every server in
// it (the web API, a worker's --http, the mail sink) answers alike: the
// same content type and the same error body, {"error": "...", "field": "..."}.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// ErrorBody is every error answer's JSON. Field names the request field at
// fault, when one is.
type ErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// Write answers code with v as JSON.
func Write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	// The status is already out: an encoding error here is a client that
	// went away, which nobody is left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers code with {"error": msg}.
func Error(w http.ResponseWriter, code int, msg string) {
	Write(w, code, ErrorBody{Error: msg})
}
