package httpjson_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/offload/offload/internal/httpjson"
)

func TestWriteAndError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		write    func(http.ResponseWriter)
		code     int
		wantBody string
	}{
		{"value", func(w http.ResponseWriter) { httpjson.Write(w, http.StatusAccepted, map[string]int{"n": 1}) }, 202, `{"n":1}` + "\n"},
		{"error", func(w http.ResponseWriter) { httpjson.Error(w, http.StatusNotFound, "no such job") }, 404, `{"error":"no such job"}` + "\n"},
		{"error with field", func(w http.ResponseWriter) {
			httpjson.Write(w, http.StatusBadRequest, httpjson.ErrorBody{Error: "bad", Field: "to"})
		}, 400, `{"error":"bad","field":"to"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.write(rec)
			if rec.Code != tc.code || rec.Body.String() != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatal("body is not JSON")
			}
		})
	}
}
