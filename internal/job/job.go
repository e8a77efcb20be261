// Package job defines the unit of work every strategy moves off the request
// path: one email, or a slice of CPU standing in for heavy work. It owns
// decoding and validation so that every strategy rejects the same bad input
// with the same message, and so nothing malformed ever reaches a mail server.
package job

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind says what running a job costs.
type Kind string

const (
	// KindIO delivers the mail over SMTP: the job waits on the network.
	KindIO Kind = "io"
	// KindCPU burns CostMS of real CPU on whatever thread runs the job,
	// the talk's blockingSleep.
	KindCPU Kind = "cpu"
)

// Limits on input. They bound memory per request and keep header fields
// within what SMTP servers accept.
const (
	MaxBodyBytes   = 64 << 10 // a whole POST /jobs body
	MaxAddressLen  = 254      // RFC 5321 path limit
	MaxSubjectLen  = 998      // RFC 5322 line limit
	MaxTextBytes   = 32 << 10
	MaxCostMS      = 60_000
	MaxDelayMS     = 7 * 24 * 3600 * 1000
	MaxIDLen       = 128
	DefaultCostMS  = 100
	defaultIDBytes = 12
)

// Job is one unit of work. The JSON shape is the HTTP API's and travels
// unchanged through every broker, so a worker on another machine sees
// exactly what the client sent.
type Job struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	Kind    Kind   `json:"kind"`
	CostMS  int    `json:"cost_ms,omitempty"`
	// DelayMS asks strategies that can schedule (queue) to run the job
	// later; others reject it.
	DelayMS int `json:"delay_ms,omitempty"`
	// Accepted is when the web side took the job; it is set by the server,
	// never by the client, and lets workers report queueing delay.
	Accepted time.Time `json:"accepted,omitzero"`
}

// FieldError is bad input in one named field. The HTTP layer answers it
// with 400 and the message as is.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// ErrTooLarge is a body over MaxBodyBytes; the HTTP layer answers 413.
var ErrTooLarge = errors.New("request body too large")

// request is what a client may send. Unknown fields are rejected so a typo
// ("subjet") is an error instead of a silently empty subject.
type request struct {
	To      *string `json:"to"`
	Subject *string `json:"subject"`
	Text    *string `json:"text"`
	Kind    *string `json:"kind"`
	CostMS  *int    `json:"cost_ms"`
	DelayMS *int    `json:"delay_ms"`
}

// Decode reads one job from a JSON body of at most MaxBodyBytes. key is the
// client's Idempotency-Key header ("" lets the server assign an id). A key
// given twice or a string that is not valid UTF-8 is an error naming the
// field, where encoding/json alone would keep one value or substitute U+FFFD.
func Decode(r io.Reader, key string) (Job, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBodyBytes+1))
	if err != nil {
		return Job{}, fmt.Errorf("read body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return Job{}, fmt.Errorf("%w: limit is %d bytes", ErrTooLarge, MaxBodyBytes)
	}
	if err := scan(body); err != nil {
		return Job{}, err
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Job{}, jsonError(err)
	}
	if dec.More() {
		return Job{}, &FieldError{Field: "body", Reason: "trailing data after the JSON object"}
	}
	j := Job{
		To:      deref(req.To),
		Subject: deref(req.Subject),
		Text:    deref(req.Text),
		Kind:    Kind(deref(req.Kind)),
	}
	if req.CostMS != nil {
		j.CostMS = *req.CostMS
	}
	if req.DelayMS != nil {
		j.DelayMS = *req.DelayMS
	}
	return finish(j, key)
}

// FromParts builds a job from the talk's GET /{to}/{subject}/{text} form.
func FromParts(to, subject, text, key string) (Job, error) {
	return finish(Job{To: to, Subject: subject, Text: text}, key)
}

func finish(j Job, key string) (Job, error) {
	if j.Kind == "" {
		j.Kind = KindIO
	}
	if j.Kind == KindCPU && j.CostMS == 0 {
		j.CostMS = DefaultCostMS
	}
	if err := j.Validate(); err != nil {
		return Job{}, err
	}
	if key != "" {
		if !utf8.ValidString(key) {
			return Job{}, &FieldError{Field: "Idempotency-Key", Reason: "not valid UTF-8"}
		}
		if err := ValidateID(key); err != nil {
			return Job{}, &FieldError{Field: "Idempotency-Key", Reason: err.Error()}
		}
		j.ID = key
	} else {
		j.ID = NewID()
	}
	return j, nil
}

// Validate checks every field. It is also what workers run on a job that
// arrives from a broker, since a broker can be written to by anyone.
func (j Job) Validate() error {
	if j.To == "" {
		return &FieldError{Field: "to", Reason: "required: the recipient's address"}
	}
	if err := headerSafe(j.To, MaxAddressLen); err != nil {
		return &FieldError{Field: "to", Reason: err.Error()}
	}
	addr, err := mail.ParseAddress(j.To)
	if err != nil {
		return &FieldError{Field: "to", Reason: fmt.Sprintf("not an email address (%v)", err)}
	}
	if addr.Name != "" || addr.Address != j.To {
		return &FieldError{Field: "to", Reason: "give a bare address like someone@example.org"}
	}
	if err := headerSafe(j.Subject, MaxSubjectLen); err != nil {
		return &FieldError{Field: "subject", Reason: err.Error()}
	}
	if !utf8.ValidString(j.Text) {
		return &FieldError{Field: "text", Reason: "not valid UTF-8"}
	}
	if len(j.Text) > MaxTextBytes {
		return &FieldError{Field: "text", Reason: fmt.Sprintf("longer than %d bytes", MaxTextBytes)}
	}
	switch j.Kind {
	case KindIO, KindCPU:
	default:
		return &FieldError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q: use \"io\" or \"cpu\"", j.Kind)}
	}
	if j.CostMS < 0 || j.CostMS > MaxCostMS {
		return &FieldError{Field: "cost_ms", Reason: fmt.Sprintf("must be between 0 and %d", MaxCostMS)}
	}
	if j.DelayMS < 0 || j.DelayMS > MaxDelayMS {
		return &FieldError{Field: "delay_ms", Reason: fmt.Sprintf("must be between 0 and %d", MaxDelayMS)}
	}
	if j.ID != "" {
		if err := ValidateID(j.ID); err != nil {
			return &FieldError{Field: "id", Reason: err.Error()}
		}
	}
	return nil
}

// headerSafe rejects what would let a value escape its mail header line.
func headerSafe(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("contains CR or LF (header injection)")
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

// ValidateID accepts ids that are safe in a Message-ID, a Redis key and a URL
// path: 1..MaxIDLen of letters, digits and "-_.".
func ValidateID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("must be 1 to %d characters", MaxIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("character %q not allowed: use letters, digits, '-', '_' or '.'", r)
		}
	}
	return nil
}

// NewID returns a random id, unique enough that two servers never collide.
func NewID() string {
	b := make([]byte, defaultIDBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the platform is broken
	}
	return hex.EncodeToString(b)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &FieldError{Field: "body", Reason: fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, err)}
	case errors.As(err, &typ):
		return &FieldError{Field: typ.Field, Reason: fmt.Sprintf("must be a %s, got %s", typ.Type, typ.Value)}
	case errors.Is(err, io.EOF):
		return &FieldError{Field: "body", Reason: "empty body: send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Field: "body", Reason: "malformed JSON: unexpected end"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &FieldError{Field: name, Reason: "unknown field: allowed are to, subject, text, kind, cost_ms, delay_ms"}
	default:
		return &FieldError{Field: "body", Reason: err.Error()}
	}
}
