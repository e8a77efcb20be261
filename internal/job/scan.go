package job

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// scan checks what encoding/json forgives before the body is unmarshalled:
// it keeps the last of two equal keys, and it turns bytes that are not UTF-8
// (and escaped lone surrogates) into U+FFFD. Either would let a mail go out
// that says something other than what the client sent, so both are errors
// naming the field. Syntax errors are left to the decoder that follows.
func scan(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return &FieldError{Field: "body", Reason: "must be a JSON object"}
	}
	seen := map[string]bool{}
	for dec.More() {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		if !validLiteral(body[start:dec.InputOffset()]) {
			return &FieldError{Field: "body", Reason: "a field name is not valid UTF-8"}
		}
		if seen[key] {
			return &FieldError{Field: key, Reason: "given twice: send each field once"}
		}
		seen[key] = true
		if err := scanValue(dec, body, key); err != nil {
			return err
		}
	}
	return nil
}

// scanValue reads one value, nested or not, and checks its strings.
func scanValue(dec *json.Decoder, body []byte, field string) error {
	depth := 0
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if !validLiteral(body[start:dec.InputOffset()]) {
				return &FieldError{Field: field, Reason: "not valid UTF-8"}
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// validLiteral reports whether the JSON string literal in raw (with any
// separators before its opening quote) decodes to valid UTF-8 unchanged:
// no invalid bytes, and every \u escape of a surrogate is half of a pair.
func validLiteral(raw []byte) bool {
	i := bytes.IndexByte(raw, '"')
	if i < 0 {
		return true
	}
	s := raw[i+1:]
	for len(s) > 0 {
		switch {
		case s[0] == '\\' && len(s) >= 6 && s[1] == 'u':
			r1 := hex4(s[2:6])
			if !utf16.IsSurrogate(r1) {
				s = s[6:]
				continue
			}
			if len(s) < 12 || s[6] != '\\' || s[7] != 'u' || utf16.DecodeRune(r1, hex4(s[8:12])) == utf8.RuneError {
				return false
			}
			s = s[12:]
		case s[0] == '\\' && len(s) >= 2:
			s = s[2:]
		default:
			r, n := utf8.DecodeRune(s)
			if r == utf8.RuneError && n == 1 {
				return false
			}
			s = s[n:]
		}
	}
	return true
}

// hex4 decodes four hex digits; the decoder has already checked them.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return utf8.RuneError
		}
	}
	return r
}
