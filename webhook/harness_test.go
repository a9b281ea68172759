package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/devstack/devstacktest"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

const (
	secret      = "webhook-secret-0123456789abcdef0123"
	otherSecret = "webhook-secret-rotated-0123456789ab"
	linkSecret  = "link-secret-0123456789abcdef012345"
)

// now is when every test happens, as the receiver's clock sees it.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// bundle is a receiver on real parts: PostgreSQL (a schema of its own),
// the embedded Temporal server, a worker, the SMTP sink, and the handlers
// behind a real HTTP server. Every request the tests make, and every
// answer, is checked against openapi.yaml.
type bundle struct {
	t      *testing.T
	ctx    context.Context
	db     *pgxpool.Pool
	schema string // db's schema, for a pool that reaches it another way
	srv    *webhook.Server
	http   *httptest.Server
	client client.Client
	sink   *smtpsink.Sink
	signer links.Signer
	spec   *specCheck
}

func quiet() *slog.Logger { return devstacktest.Quiet() }

// setup starts everything; journeys (YAML sources) are published besides
// the shipped ones.
func setup(t *testing.T, extra ...string) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	b := &bundle{t: t, ctx: ctx, spec: loadSpec(t)}
	b.db, b.schema = storetest.Schema(t)
	var mail *email.Sender
	b.sink, mail = devstacktest.Sink(t)
	b.client = devstacktest.Temporal(t)

	// The receiver's address is the links' base, so links in the mail the
	// sink receives can be followed for real.
	var handler http.Handler
	b.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(b.http.Close)
	keys, err := links.ParseKeys("k1=" + linkSecret)
	require.NoError(t, err)
	b.signer = links.Signer{Keys: keys, BaseURL: b.http.URL, Now: func() time.Time { return now }}
	devstacktest.Worker(t, b.client, t.Name(), &activities.Activities{DB: b.db, Mail: mail, SalesEmail: "sales@acme.test", Log: quiet(), Links: b.signer, Track: true})
	devstacktest.Publish(t, ctx, b.db, extra...)
	b.srv = &webhook.Server{DB: b.db, Temporal: b.client, Links: b.signer, Log: quiet(),
		Secrets: [][]byte{[]byte(secret), []byte(otherSecret)}, Now: func() time.Time { return now },
		Intake: &ingest.Intake{DB: b.db, Temporal: b.client, TaskQueue: t.Name(), DefaultJourney: "b2b-nurture"}}
	handler = b.srv.Handler()
	return b
}

// response is an answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), string(r.body))
}

func (r response) errorText(t *testing.T) string {
	t.Helper()
	var p struct {
		Error string `json:"error"`
	}
	r.json(t, &p)
	return p.Error
}

// do sends a request (signed when sign is set, with the first secret at
// the receiver's now) and checks request and answer against the spec.
func (b *bundle) do(method, path, contentType string, body []byte, sign bool) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.ctx, method, b.http.URL+path, bytes.NewReader(body))
	require.NoError(b.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if sign {
		req.Header.Set(webhook.SignatureHeader, webhook.Sign([]byte(secret), now, body))
	}
	return b.send(req)
}

func (b *bundle) send(req *http.Request) response {
	b.t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	b.spec.check(b.t, req, resp, body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (b *bundle) postJSON(path string, v any) response {
	b.t.Helper()
	body, err := json.Marshal(v)
	require.NoError(b.t, err)
	return b.do(http.MethodPost, path, "application/json", body, true)
}

// enroll enrols a lead directly (not over HTTP) and waits for its first
// email.
func (b *bundle) enroll(p lead.Profile) lead.Profile {
	b.t.Helper()
	res, err := b.srv.Intake.Enroll(b.ctx, p, "", "")
	require.NoError(b.t, err)
	_, err = b.sink.Wait(b.ctx, func([]smtpsink.Message) bool { return len(b.sink.To(res.Profile.Email)) > 0 })
	require.NoError(b.t, err)
	return res.Profile
}

func (b *bundle) status(id string) workflows.Status {
	b.t.Helper()
	var st workflows.Status
	b.eventually("status of "+id, func() bool {
		var err error
		st, err = workflows.QueryLead(b.ctx, b.client, id)
		return err == nil
	})
	return st
}

func (b *bundle) eventually(what string, ok func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *bundle) events(leadID string) int {
	b.t.Helper()
	n, err := store.CountEvents(b.ctx, b.db, leadID)
	require.NoError(b.t, err)
	return n
}

// tokenIn cuts the token out of a link.
func tokenIn(link, path string) string {
	_, tok, _ := strings.Cut(link, path)
	return tok
}

// temporalAway points the receiver at a Temporal that is not there (a
// client of a closed port) and returns what brings the real one back.
func (b *bundle) temporalAway() (back func()) {
	b.t.Helper()
	down, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(b.t, err)
	b.t.Cleanup(down.Close)
	good := b.srv.Temporal
	b.srv.Temporal, b.srv.Intake.Temporal = down, down
	return func() { b.srv.Temporal, b.srv.Intake.Temporal = good, good }
}
