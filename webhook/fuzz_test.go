package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"
)

// FuzzEventBody: whatever arrives as an event, a batch or a verdict body,
// decoding never panics; a refusal is a bad request with words, never an
// error that would be answered 503 (which makes a sender retry for ever);
// and what decodes was valid UTF-8, strict JSON of one value, so nothing is
// quietly altered on its way in.
func FuzzEventBody(f *testing.F) {
	f.Add([]byte(`{"id": "x", "type": "page_view", "email": "ada@analytical.test", "properties": {"page": "/"}}`))
	f.Add([]byte(`{"events": [{"id": "x", "type": "page_view", "lead_id": "y"}]}`))
	f.Add([]byte(`{"id": 7}`))
	f.Add([]byte(`[`))
	f.Add([]byte(``))
	f.Add([]byte("{\"id\": \"\xff\", \"type\": \"page_view\"}"))
	f.Add([]byte(`{"id": "x"} {}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&EventIn{}, &BatchIn{}, &VerdictIn{}} {
			err := decodeJSON(body, v)
			if err != nil {
				if !errors.Is(err, errBadRequest) {
					t.Fatalf("%T: refusal is not a bad request: %v", v, err)
				}
				continue
			}
			if !utf8.Valid(body) {
				t.Fatalf("%T: a body with invalid UTF-8 decoded: %q", v, body)
			}
			if !json.Valid(body) {
				t.Fatalf("%T: a body that is not one JSON value decoded: %q", v, body)
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

// FuzzPostedForm: what a mail client or a page's button posts to a link,
// URL-encoded or multipart, is read within its limit or refused, never a
// panic; nothing read is longer than the body that carried it.
func FuzzPostedForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nxxxx\r\n--b--\r\n"))
	f.Add("multipart/form-data", []byte("--"))
	f.Add("", []byte("reason=%zz"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		const limit = 4096
		r := httptest.NewRequest(http.MethodPost, "/unsubscribe/x", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		values, err := postedForm(httptest.NewRecorder(), r, limit)
		if err != nil {
			return
		}
		for k, vs := range values {
			for _, v := range vs {
				if len(k)+len(v) > len(body) {
					t.Fatalf("read %q=%q from a body of %d bytes", k, v, len(body))
				}
			}
		}
	})
}
