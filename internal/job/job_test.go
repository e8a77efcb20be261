package job

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		key       string
		wantField string // "" means valid
		wantErr   error
	}{
		{name: "minimal io", body: `{"to":"a@example.org","subject":"hi","text":"hello"}`},
		{name: "cpu with cost", body: `{"to":"a@example.org","kind":"cpu","cost_ms":300}`},
		{name: "idempotency key", body: `{"to":"a@example.org"}`, key: "order-42"},
		{name: "malformed json", body: `{"to":`, wantField: "body"},
		{name: "not json", body: `hello`, wantField: "body"},
		{name: "empty body", body: ``, wantField: "body"},
		{name: "trailing data", body: `{"to":"a@example.org"} {}`, wantField: "body"},
		{name: "missing to", body: `{"subject":"hi"}`, wantField: "to"},
		{name: "invalid to", body: `{"to":"not an address"}`, wantField: "to"},
		{name: "display name", body: `{"to":"Bob <b@example.org>"}`, wantField: "to"},
		{name: "CRLF in subject", body: `{"to":"a@example.org","subject":"hi\r\nBcc: x@evil.org"}`, wantField: "subject"},
		{name: "LF in to", body: `{"to":"a@example.org\nBcc: x@evil.org"}`, wantField: "to"},
		{name: "NUL in subject", body: `{"to":"a@example.org","subject":"a\u0000b"}`, wantField: "subject"},
		{name: "unknown kind", body: `{"to":"a@example.org","kind":"gpu"}`, wantField: "kind"},
		{name: "negative cost", body: `{"to":"a@example.org","kind":"cpu","cost_ms":-1}`, wantField: "cost_ms"},
		{name: "huge cost", body: `{"to":"a@example.org","kind":"cpu","cost_ms":600001}`, wantField: "cost_ms"},
		{name: "cost wrong type", body: `{"to":"a@example.org","cost_ms":"10"}`, wantField: "cost_ms"},
		{name: "unknown field", body: `{"to":"a@example.org","subjet":"typo"}`, wantField: "subjet"},
		{name: "bad key", body: `{"to":"a@example.org"}`, key: "a b", wantField: "Idempotency-Key"},
		{name: "key with CRLF", body: `{"to":"a@example.org"}`, key: "a\r\nb", wantField: "Idempotency-Key"},
		{name: "oversize body", body: `{"to":"a@example.org","text":"` + strings.Repeat("x", 2<<20) + `"}`, wantErr: ErrTooLarge},
		{name: "duplicate to", body: `{"to":"a@example.org","to":"b@example.org"}`, wantField: "to"},
		{name: "duplicate subject", body: `{"to":"a@example.org","subject":"a","text":"x","subject":"b"}`, wantField: "subject"},
		{name: "duplicate unknown field", body: `{"to":"a@example.org","x":1,"x":2}`, wantField: "x"},
		{name: "nested duplicates are not top-level", body: `{"to":"a@example.org","cost_ms":{"a":1,"a":2}}`, wantField: "cost_ms"},
		{name: "invalid UTF-8 in to", body: "{\"to\":\"a\xff@example.org\"}", wantField: "to"},
		{name: "invalid UTF-8 in subject", body: "{\"to\":\"a@example.org\",\"subject\":\"caf\xc3\"}", wantField: "subject"},
		{name: "invalid UTF-8 in text", body: "{\"to\":\"a@example.org\",\"text\":\"\xed\xa0\x80\"}", wantField: "text"},
		{name: "invalid UTF-8 in kind", body: "{\"to\":\"a@example.org\",\"kind\":\"io\xfe\"}", wantField: "kind"},
		{name: "lone surrogate escape", body: `{"to":"a@example.org","subject":"\ud800"}`, wantField: "subject"},
		{name: "reversed surrogate pair", body: `{"to":"a@example.org","text":"\udc00\ud800"}`, wantField: "text"},
		{name: "surrogate pair is fine", body: `{"to":"a@example.org","subject":"\ud83d\ude00 \u00e9 \\ud800"}`},
		{name: "literal U+FFFD is fine", body: `{"to":"a@example.org","text":"�"}`},
		{name: "invalid UTF-8 in a key", body: "{\"to\":\"a@example.org\",\"\xff\":1}", wantField: "body"},
		{name: "not an object", body: `["a@example.org"]`, wantField: "body"},
		{name: "key not UTF-8", body: `{"to":"a@example.org"}`, key: "k\xff", wantField: "Idempotency-Key"},
		{name: "long text", body: `{"to":"a@example.org","text":"` + strings.Repeat("x", MaxTextBytes+1) + `"}`, wantField: "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := Decode(strings.NewReader(tt.body), tt.key)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if j.ID == "" || j.Kind == "" {
					t.Fatalf("id and kind must be set: %+v", j)
				}
				if tt.key != "" && j.ID != tt.key {
					t.Fatalf("id = %q, want the idempotency key %q", j.ID, tt.key)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want a FieldError on %q", err, err, tt.wantField)
			}
			if fe.Field != tt.wantField {
				t.Fatalf("field = %q (%v), want %q", fe.Field, fe, tt.wantField)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	j, err := Decode(strings.NewReader(`{"to":"a@example.org","kind":"cpu"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if j.CostMS != DefaultCostMS {
		t.Fatalf("cost = %d, want default %d", j.CostMS, DefaultCostMS)
	}
	j, err = Decode(strings.NewReader(`{"to":"a@example.org"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if j.Kind != KindIO {
		t.Fatalf("kind = %q, want io", j.Kind)
	}
}

func TestFromParts(t *testing.T) {
	if _, err := FromParts("a@example.org", "hi", "there", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := FromParts("a@example.org", "hi\r\nBcc: x@y.z", "there", ""); err == nil {
		t.Fatal("CRLF in subject accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"to":"a@example.org","subject":"hi","text":"hello"}`, "")
	f.Add(`{"to":"a@example.org","kind":"cpu","cost_ms":5}`, "k-1")
	f.Add(`{"to":"a@example.org","subject":"x\r\ny"}`, "")
	f.Add(`[1,2,3]`, "\n")
	f.Add(`{"to":"a@example.org","to":"b@example.org"}`, "")
	f.Add(`{"to":"a@example.org","subject":"x","subject":"y"}`, "")
	f.Add("{\"to\":\"a@example.org\",\"subject\":\"caf\xc3\"}", "")
	f.Add("{\"to\":\"a\xff@example.org\"}", "")
	f.Add(`{"to":"a@example.org","text":"\ud800 \ud83d\ude00"}`, "")
	f.Add(`{"to":"a@example.org"}`, "k\xff")
	f.Fuzz(func(t *testing.T, body, key string) {
		j, err := Decode(strings.NewReader(body), key)
		if err != nil {
			return
		}
		for _, s := range []string{j.ID, j.To, j.Subject, j.Text, string(j.Kind)} {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted a field that is not valid UTF-8: %q", s)
			}
		}
		// What was accepted is what the client said: re-encoded, it reads
		// back the same, and no U+FFFD appeared that the body did not hold.
		raw, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		var back Job
		if err := json.Unmarshal(raw, &back); err != nil || back != j {
			t.Fatalf("re-encoded job reads back as %+v (%v), want %+v", back, err, j)
		}
		if strings.Contains(j.To+j.Subject+j.Text, "\uFFFD") && !strings.Contains(body, "\uFFFD") && !strings.Contains(strings.ToLower(body), `\ufffd`) {
			t.Fatalf("U+FFFD in the job but not in the body %q", body)
		}
		// Whatever was accepted must be safe to put in mail headers.
		if err := j.Validate(); err != nil {
			t.Fatalf("accepted a job that fails validation: %v", err)
		}
		for _, s := range []string{j.To, j.Subject, j.ID} {
			if strings.ContainsAny(s, "\r\n") {
				t.Fatalf("accepted CR/LF in a header field: %q", s)
			}
		}
	})
}
