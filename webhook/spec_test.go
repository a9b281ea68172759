package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/webhook"
)

// specCheck validates requests and answers against openapi.yaml: the
// description is tested against the handlers, not written beside them.
type specCheck struct {
	mu sync.Mutex
	v  validator.Validator
}

var spec = sync.OnceValues(func() (validator.Validator, error) {
	doc, err := libopenapi.NewDocument(webhook.OpenAPI())
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		var msgs []string
		for _, e := range verrs {
			msgs = append(msgs, e.Message+": "+e.Reason)
		}
		return nil, &specError{strings.Join(msgs, "; ")}
	}
	return v, nil
})

type specError struct{ msg string }

func (e *specError) Error() string { return "openapi.yaml is not valid OpenAPI 3.1: " + e.msg }

func loadSpec(t *testing.T) *specCheck {
	t.Helper()
	v, err := spec()
	require.NoError(t, err)
	return &specCheck{v: v}
}

// check validates an answer always, and the request when it was answered
// with success (tests send bad requests on purpose: the spec says what
// their answer looks like, not that they are valid).
func (s *specCheck) check(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if req.GetBody != nil {
		if rb, err := req.GetBody(); err == nil {
			req.Body = rb
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []string
	if resp.StatusCode < 400 && !someRefused(body) {
		if ok, verrs := s.v.ValidateHttpRequest(req); !ok {
			for _, e := range verrs {
				errs = append(errs, "request: "+e.Message+": "+e.Reason)
			}
		}
		if req.GetBody != nil {
			if rb, err := req.GetBody(); err == nil {
				req.Body = rb
			}
		}
	}
	if ok, verrs := s.v.ValidateHttpResponse(req, resp); !ok {
		for _, e := range verrs {
			errs = append(errs, "answer: "+e.Message+": "+e.Reason)
		}
	}
	require.Empty(t, errs, "%s %s -> %d %s: not as openapi.yaml says", req.Method, req.URL.Path, resp.StatusCode, body)
}

// someRefused reports whether a batch answer refused some of its events:
// then the request held events the spec does not allow, on purpose.
func someRefused(body []byte) bool {
	var batch struct {
		Results []struct {
			Status int `json:"status"`
		} `json:"results"`
	}
	if json.Unmarshal(body, &batch) != nil {
		return false
	}
	for _, r := range batch.Results {
		if r.Status >= 400 {
			return true
		}
	}
	return false
}
