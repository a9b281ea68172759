package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/console"
	"github.com/nurture-dev/nurture/devstack/devstacktest"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

const (
	linkSecret = "link-secret-0123456789abcdef012345"
	password   = "correct horse battery staple"
)

// start is when every test begins, as the console's clock sees it.
var start = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// callsJourney gives its leads a call to make, so the tests have a task
// to answer.
const callsJourney = `id: calls
name: Calls
scoring:
  mql: 20
  events:
    webinar_signup: {points: 20, axis: interest}
handoff:
  min_score: 100
content:
  - {id: hello, stage: first, subject: "Hello {{.FirstName}}", text: "Hi. Unsubscribe: {{.UnsubscribeURL}}"}
  - {id: thanks, stage: first, subject: "Thanks {{.FirstName}}", text: "Thanks. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: first
    steps:
      - {id: s1, send: hello}
      - id: call
        task:
          title: "Call {{.FirstName}}"
          cost: 25
          timeout: 30d
          outcomes: {reached: good, no_answer: bye}
          on_timeout: bye
      - {id: good, send: thanks}
      - {id: bye, exit: done}
`

// bundle is the console on real parts: PostgreSQL (a schema of its own),
// the embedded Temporal server, a worker, the SMTP sink, and the receiver
// (which serves the console) behind a real HTTP server.
type bundle struct {
	t      testing.TB
	ctx    context.Context
	db     *pgxpool.Pool
	client client.Client
	sink   *smtpsink.Sink
	in     *ingest.Intake
	http   *httptest.Server
	clock  *clock
	// accounts by role: "marketer", "sales", "admin" (and "sso", which
	// signs in only through the proxy).
	accounts console.Accounts
	// codec seals payloads, when the options gave payload keys.
	codec *codec.Codec
}

func quiet() *slog.Logger { return devstacktest.Quiet() }

type options struct {
	proxyHeader  string
	proxyTrusted string
	// payloadKeys, when set, serve the codec endpoint to codecOrigins.
	payloadKeys  []keyring.Key
	codecOrigins []string
}

func setup(t testing.TB, opts ...options) *bundle {
	t.Helper()
	var opt options
	if len(opts) > 0 {
		opt = opts[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	b := &bundle{t: t, ctx: ctx, clock: &clock{t: start}}
	b.db = storetest.Pool(t)
	var mail *email.Sender
	b.sink, mail = devstacktest.Sink(t)
	b.client = devstacktest.Temporal(t)

	var handler http.Handler
	b.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(b.http.Close)
	keys, err := links.ParseKeys("k1=" + linkSecret)
	require.NoError(t, err)
	signer := links.Signer{Keys: keys, BaseURL: b.http.URL}
	devstacktest.Worker(t, b.client, t.Name(), &activities.Activities{DB: b.db, Mail: mail, SalesEmail: "sales@acme.test", Log: quiet(), Links: signer})
	devstacktest.Publish(t, ctx, b.db, callsJourney)

	b.accounts = console.Accounts{}
	for _, a := range []struct {
		name string
		role console.Role
	}{{"marketer", console.RoleMarketer}, {"sales", console.RoleSales}, {"admin", console.RoleAdmin}} {
		// The lowest cost: the tests sign in often.
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		require.NoError(t, err)
		b.accounts[a.name] = console.Account{Name: a.name, Role: a.role, Hash: string(hash)}
	}
	b.accounts["sso"] = console.Account{Name: "sso", Role: console.RoleSales, Hash: "-"}
	b.in = &ingest.Intake{DB: b.db, Temporal: b.client, TaskQueue: t.Name(), DefaultJourney: "b2b-nurture", Now: b.clock.Now}
	trusted, err := console.ParseTrusted(opt.proxyTrusted)
	require.NoError(t, err)
	if opt.payloadKeys != nil {
		b.codec, err = codec.New(b.db, opt.payloadKeys)
		require.NoError(t, err)
	}
	con, err := console.New(console.Options{DB: b.db, Temporal: b.client, Intake: b.in, Accounts: b.accounts, LinkKeys: keys,
		ProxyHeader: opt.proxyHeader, ProxyTrusted: trusted, Log: quiet(), Now: b.clock.Now, Codec: b.codec, CodecOrigins: opt.codecOrigins})
	require.NoError(t, err)
	t.Cleanup(con.Close)
	srv := &webhook.Server{DB: b.db, Temporal: b.client, Links: signer, Log: quiet(), Intake: b.in, Console: con.Handler(), Now: b.clock.Now}
	handler = srv.Handler()
	return b
}

// enroll enrols a lead and waits for its first email.
func (b *bundle) enroll(p lead.Profile, journey string) lead.Profile {
	b.t.Helper()
	res, err := b.in.Enroll(b.ctx, p, journey, "")
	require.NoError(b.t, err)
	_, err = b.sink.Wait(b.ctx, func([]smtpsink.Message) bool { return len(b.sink.To(res.Profile.Email)) > 0 })
	require.NoError(b.t, err)
	return res.Profile
}

// handOff enrols a lead in b2b-nurture and feeds it what hands it off.
func (b *bundle) handOff(p lead.Profile) lead.Profile {
	b.t.Helper()
	p = b.enroll(p, "b2b-nurture")
	for i, typ := range []lead.EventType{lead.DemoRequest, lead.ContactForm, lead.WebinarSignup} {
		_, err := b.in.Record(b.ctx, lead.Event{ID: p.ID + string(rune('a'+i)), LeadID: p.ID, Type: typ, OccurredAt: start})
		require.NoError(b.t, err)
	}
	b.eventually("handed off", func() bool {
		st, err := workflows.QueryLead(b.ctx, b.client, p.ID)
		return err == nil && st.Lifecycle == workflows.LifecycleHandedOff
	})
	b.eventually("the hand-off stored", func() bool {
		l, err := store.GetLead(b.ctx, b.db, p.ID)
		return err == nil && l.Lifecycle == string(workflows.LifecycleHandedOff)
	})
	return p
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

// user is a browser without JavaScript: a cookie jar and no redirects
// followed.
type user struct {
	b    *bundle
	hc   *http.Client
	csrf string
}

func (b *bundle) anonymous() *user {
	jar, err := cookiejar.New(nil)
	require.NoError(b.t, err)
	return &user{b: b, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// as signs in through the form and keeps the session's CSRF token.
func (b *bundle) as(name string) *user {
	b.t.Helper()
	u := b.anonymous()
	r := u.login(name, password)
	require.Equal(b.t, http.StatusSeeOther, r.status, r.body)
	page := u.get("/console/leads")
	require.Equal(b.t, http.StatusOK, page.status, page.body)
	u.csrf = csrfIn(page.body)
	require.NotEmpty(b.t, u.csrf)
	return u
}

func (u *user) login(name, pw string) response {
	u.b.t.Helper()
	page := u.get("/console/login")
	require.Equal(u.b.t, http.StatusOK, page.status)
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(page.body)
	require.Len(u.b.t, token, 2)
	return u.postRaw("/console/login", url.Values{"name": {name}, "password": {pw}, "token": {token[1]}})
}

func csrfIn(body string) string {
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if len(m) < 2 {
		return ""
	}
	return m[1]
}

type response struct {
	status int
	header http.Header
	body   string
}

func (u *user) do(req *http.Request) response {
	u.b.t.Helper()
	resp, err := u.hc.Do(req)
	require.NoError(u.b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(u.b.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (u *user) get(path string) response {
	u.b.t.Helper()
	req, err := http.NewRequestWithContext(u.b.ctx, http.MethodGet, u.b.http.URL+path, nil)
	require.NoError(u.b.t, err)
	return u.do(req)
}

// post posts a form with the session's CSRF token.
func (u *user) post(path string, form url.Values) response {
	u.b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", u.csrf)
	}
	return u.postRaw(path, form)
}

func (u *user) postRaw(path string, form url.Values) response {
	u.b.t.Helper()
	req, err := http.NewRequestWithContext(u.b.ctx, http.MethodPost, u.b.http.URL+path, strings.NewReader(form.Encode()))
	require.NoError(u.b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(req)
}
