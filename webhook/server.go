// Package webhook is nurture's HTTP edge: the handlers through which
// websites, forms, email providers, the CRM and the leads themselves (their
// clicks, opens and unsubscribes) reach the leads' journeys. The receiver
// binary serves them; the demo runs them in its own process.
//
// The contract, for every endpoint that takes engagement in:
//   - nothing bad gets in: bodies are size-limited and read whole before
//     anything else; malformed JSON, unknown fields, invalid UTF-8, unknown
//     event types and times out of range get a 4xx whose message says what
//     is wrong and where, and nothing is stored;
//   - machines sign: an HMAC-SHA256 over timestamp and raw body, within a
//     freshness window, any of several secrets (for rotation); links in
//     emails carry signed tokens (package links). Unsigned, wrongly signed
//     or stale requests get 401 and leave no trace;
//   - nothing accepted is lost: an event is stored (idempotent on the lead
//     and the sender's event ID) and then signalled to the lead's journey
//     (package ingest); the answer is 2xx only when both succeeded, and 503
//     with Retry-After when PostgreSQL or Temporal is away, so the sender
//     retries and the retry counts once.
//
// The OpenAPI 3.1 description of every endpoint is openapi.yaml, served at
// /openapi.yaml and checked against these handlers by the tests.
package webhook

import (
	"context"
	"crypto/ecdsa"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/links"
)

// DefaultMaxBody bounds request bodies unless the server says otherwise.
const DefaultMaxBody = 1 << 20

// retryAfter is what a 503 asks a sender to wait, in seconds.
const retryAfter = 30

// Server holds what the handlers need.
type Server struct {
	DB       *pgxpool.Pool
	Temporal client.Client
	Intake   *ingest.Intake
	Links    links.Signer
	// Secrets sign machine requests; any of them is accepted.
	Secrets [][]byte
	// SendGridKey verifies SendGrid's signed event webhook; nil refuses
	// its events.
	SendGridKey *ecdsa.PublicKey
	// MaxBody bounds request bodies (DefaultMaxBody when zero).
	MaxBody int64
	Log     *slog.Logger
	// Now is the clock for signatures and event times; time.Now when nil.
	Now func() time.Time
	// Console, when set, is served under /console/ (package console), and
	// / leads to it.
	Console http.Handler
	// OnRequest, when set, sees every request as it is answered (the demo
	// prints them).
	OnRequest func(method, route string, status int, took time.Duration)
	// Metrics, when set, is served at /metrics (Prometheus).
	Metrics http.Handler
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return DefaultMaxBody
}

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI is the description of the endpoints (OpenAPI 3.1).
func OpenAPI() []byte { return openAPI }

// Handler routes every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("POST /v1/events", s.signed(s.postEvent))
	mux.HandleFunc("POST /v1/events/batch", s.signed(s.postEvents))
	mux.HandleFunc("POST /v1/forms/{form}", s.signed(s.postForm))
	mux.HandleFunc("POST /v1/verdicts", s.signed(s.postVerdict))
	mux.HandleFunc("POST /v1/providers/sendgrid", s.postSendGrid)
	s.routeLinks(mux)
	if s.Console != nil {
		mux.Handle("/console/", s.Console)
		mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	}
	return s.logged(routedOrSaid(mux))
}

// routedOrSaid serves what mux routes; a request it does not route gets the
// mux's answer (404, or 405 with Allow) in the receiver's JSON, like every
// other mistake.
func routedOrSaid(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &answerOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			writeProblem(w, http.StatusNotFound, "no endpoint at this path; /openapi.yaml lists them")
		case http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			writeProblem(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not taken here; use %s", r.Method, allow))
		default: // a redirect to the cleaned path, as the mux gives it
			mux.ServeHTTP(w, r)
		}
	})
}

// answerOnly keeps the status and headers of an answer and drops its body.
type answerOnly struct {
	header http.Header
	status int
}

func (a *answerOnly) Header() http.Header { return a.header }
func (a *answerOnly) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}
func (a *answerOnly) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return len(b), nil
}

// problem is an error answer: what is wrong and, when one field is, which.
type problem struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, status, problem{Error: msg})
}

// fail answers an error from ingest or below: the caller's mistakes with
// their 4xx, everything else as unavailable, to be retried (logged here,
// since the answer does not say more than "try again").
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := classify(err)
	if status == http.StatusServiceUnavailable {
		s.Log.Warn("request not taken; the sender is asked to retry", "route", r.Pattern, "error", err)
	}
	writeProblem(w, status, msg)
}

// classify maps an error to a status and a message for the sender.
func classify(err error) (int, string) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", tooBig.Limit)
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, said(err, errBadRequest)
	case errors.Is(err, errUnsupported):
		return http.StatusUnsupportedMediaType, said(err, errUnsupported)
	case errors.Is(err, ingest.ErrInvalid):
		return http.StatusUnprocessableEntity, said(err, ingest.ErrInvalid)
	case errors.Is(err, ingest.ErrReentry):
		return http.StatusUnprocessableEntity, err.Error()
	case errors.Is(err, ingest.ErrUnknownLead):
		return http.StatusNotFound, said(err, ingest.ErrUnknownLead)
	case errors.Is(err, ingest.ErrConflict):
		return http.StatusConflict, said(err, ingest.ErrConflict)
	case errors.Is(err, context.Canceled):
		return 499, "the request was cancelled"
	}
	return http.StatusServiceUnavailable, "nurture cannot take this now (its database or workflow engine is unavailable); retry later"
}

// said is an error's message without the sentinel's word in front: the
// status says that already.
func said(err, sentinel error) string {
	return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
}

// errBadRequest marks a body that could not be read as what it should be.
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func utf8Valid(b []byte) bool { return utf8.Valid(b) }

// decodeJSON decodes one JSON value strictly: invalid UTF-8 (which Go's
// decoder would quietly replace), unknown fields and trailing data are
// mistakes, said with where they are.
func decodeJSON(body []byte, v any) error {
	if !utf8Valid(body) {
		return badRequest("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytesReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("%s", jsonMessage(err))
	}
	if dec.More() {
		return badRequest("the body has more than one JSON value")
	}
	return nil
}

// jsonMessage says a JSON decoding error in a sender's words.
func jsonMessage(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("%s: expected %s, got JSON %s", field, typeWord(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.EOF):
		return "the body is empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: the body ends inside a value"
	}
	// The decoder's own words, such as `json: unknown field "colour"`.
	return strings.TrimPrefix(err.Error(), "json: ")
}

func typeWord(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "int32":
		return "a whole number"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice":
		return "a list"
	}
	return kind
}

// statusWriter remembers the status for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// logged logs each request by its route pattern, never its path: paths
// carry tokens, and bodies carry addresses; neither belongs in logs. A
// panic in a handler is a 500, logged with the route.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.Log.Error("handler panicked", "route", r.Pattern, "panic", p)
				if sw.status == 0 {
					writeProblem(sw, http.StatusInternalServerError, "internal error")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "(no route)"
			}
			took := time.Since(start)
			s.Log.Info("request", "route", route, "status", sw.status, "bytes", sw.bytes, "ms", took.Milliseconds())
			if s.OnRequest != nil {
				s.OnRequest(r.Method, route, sw.status, took)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
