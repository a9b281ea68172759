package webhook

import (
	"errors"
	"testing"
)

// FuzzEventBody: whatever arrives as an event or a batch body, decoding
// never panics, and a refusal is a bad request with words, never an error
// that would be answered 503 (which makes a sender retry for ever).
func FuzzEventBody(f *testing.F) {
	f.Add([]byte(`{"id": "x", "type": "page_view", "email": "ada@analytical.test", "properties": {"page": "/"}}`))
	f.Add([]byte(`{"events": [{"id": "x", "type": "page_view", "lead_id": "y"}]}`))
	f.Add([]byte(`{"id": 7}`))
	f.Add([]byte(`[`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&EventIn{}, &BatchIn{}, &VerdictIn{}} {
			if err := decodeJSON(body, v); err != nil && !errors.Is(err, errBadRequest) {
				t.Fatalf("%T: refusal is not a bad request: %v", v, err)
			}
		}
	})
}

// FuzzFormBody: form bodies of either media type decode or are refused
// with a 4xx, never a panic.
func FuzzFormBody(f *testing.F) {
	f.Add("application/json", []byte(`{"email": "a@b.test", "bant_budget": "yes"}`))
	f.Add("application/x-www-form-urlencoded", []byte(`email=a%40b.test&first_name=A`))
	f.Add("application/x-www-form-urlencoded", []byte(`%zz`))
	f.Add("text/plain", []byte(`x`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		values, err := formValues(contentType, body)
		if err != nil {
			if status, _ := classify(err); status >= 500 {
				t.Fatalf("refusal answered %d: %v", status, err)
			}
			return
		}
		for k, v := range values {
			if !utf8Valid([]byte(k)) || !utf8Valid([]byte(v)) {
				t.Fatalf("invalid UTF-8 got through: %q=%q", k, v)
			}
		}
	})
}
