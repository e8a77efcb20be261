package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/offload/offload/internal/job"
)

// DefaultBodyTimeout is how long a client has to send a POST body once the
// server starts reading it.
const DefaultBodyTimeout = 10 * time.Second

// errSlowBody is a body that did not arrive within the body timeout: 408.
var errSlowBody = errors.New("request body arrived too slowly")

// errMediaType is a POST /jobs that does not say it is JSON: 415. Only
// application/json is accepted because a web page can send text/plain or a
// form to any origin without a CORS preflight, and this API sends mail.
var errMediaType = errors.New("unsupported media type")

// checkMediaType accepts application/json with at most a UTF-8 charset,
// the media type matched case-insensitively as RFC 9110 says.
func checkMediaType(ct string) error {
	if ct == "" {
		return fmt.Errorf("%w: no Content-Type: send application/json", errMediaType)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type %q: send application/json", errMediaType, ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("%w: charset %q: the body must be UTF-8", errMediaType, cs)
	}
	return nil
}

// readBody reads at most the job limit, so an oversize body costs nothing,
// within the body timeout, so a client that trickles its body holds a
// connection (and, under threads, a request worker) only that long. The
// deadline is set when reading starts, not when the request arrived: under
// threads a request may wait for a worker, and that wait is not the client's.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return nil, fmt.Errorf("set body deadline: %w", err)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, job.MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return body, nil
	case errors.As(err, &mbe):
		return nil, fmt.Errorf("%w: limit is %d bytes", job.ErrTooLarge, job.MaxBodyBytes)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("%w: %d bytes in %v", errSlowBody, len(body), s.cfg.BodyTimeout)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &job.FieldError{Field: "body", Reason: "ended before its Content-Length"}
	default:
		return nil, fmt.Errorf("read request body: %w", err)
	}
}

// ServeHTTP answers every request, routed or not, with a JSON body on
// error. The mux answers an unknown path (404) and a known path with the
// wrong method (405, with Allow) in plain text; those two are rewritten.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r) // routed (the mux sets the path values), or a redirect
		return
	}
	jw := &jsonErrors{ResponseWriter: w, r: r}
	h.ServeHTTP(jw, r)
	s.requests.WithLabelValues("unmatched", strconv.Itoa(jw.code)).Inc()
}

// jsonErrors turns the mux's plain-text 404 and 405 into JSON, keeping
// the Allow header it sets.
type jsonErrors struct {
	http.ResponseWriter
	r       *http.Request
	code    int
	swallow bool
}

func (w *jsonErrors) WriteHeader(code int) {
	w.code = code
	var msg string
	switch code {
	case http.StatusNotFound:
		msg = fmt.Sprintf("no such route: %s %s", w.r.Method, w.r.URL.Path)
	case http.StatusMethodNotAllowed:
		msg = fmt.Sprintf("method %s not allowed on %s: use %s", w.r.Method, w.r.URL.Path, w.Header().Get("Allow"))
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.swallow = true
	w.Header().Del("X-Content-Type-Options")
	writeJSON(w.ResponseWriter, code, errorBody{Error: msg})
}

func (w *jsonErrors) Write(b []byte) (int, error) {
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
