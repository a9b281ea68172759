// Package console is nurture's web console for marketers and sales: the
// journeys with their diagrams, the funnel and what each hand-off cost,
// lead search and a lead's story, the sales inbox where hand-offs get their
// verdicts, and what needs an operator's attention. It is served by the
// receiver (under /console/) and by the demo, over the same system of
// record (PostgreSQL, package store) and the same workflow messages
// (package workflows, through package ingest) as every other edge.
//
// Pages are rendered on the server with html/template; every asset (the
// style sheet, a vendored copy of Mermaid for journey diagrams) is embedded
// in the binary. Charts are SVG drawn on the server.
//
// Nobody sees a page without signing in. Accounts come from a file (see
// ParseAccounts); sessions are signed, HTTP-only, SameSite cookies; every
// change is a POST carrying a CSRF token; failed sign-ins are limited per
// client address and per name. A company's single sign-on proxy can sign
// people in instead (Options.ProxyHeader).
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/links"
)

// unavailable is what a page says when PostgreSQL or Temporal failed it.
const unavailable = "nurture cannot answer this now (its database or workflow engine is unavailable). Try again in a moment; the details are in the receiver's log."

// Prefix is where the console is served.
const Prefix = "/console"

// Limits of what a person sends the console.
const (
	maxForm   = 64 << 10
	pageSize  = 50
	maxSearch = 200
)

// Sign-in limits: failures in a window, per client address and per name.
const (
	loginWindow     = 15 * time.Minute
	loginFailsName  = 5
	loginFailsIP    = 20
	defaultCacheTTL = time.Minute
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options are what the console needs.
type Options struct {
	DB       *pgxpool.Pool
	Temporal client.Client
	Intake   *ingest.Intake
	Accounts Accounts
	// LinkKeys are LINK_SECRET's keys; the first one, put through HMAC
	// with a label of the console's own, signs sessions.
	LinkKeys []links.Key
	// ProxyHeader, when set, names the header in which a single sign-on
	// proxy in front of the console says who is signed in (for example
	// X-Forwarded-User). The name must be an account; its role applies.
	ProxyHeader string
	// ProxyTrusted are the addresses the proxy connects from; the header
	// is believed only on a connection from one of them (anyone else could
	// send it). Required with ProxyHeader.
	ProxyTrusted []netip.Prefix
	// Codec, when set, serves Temporal's codec server protocol at
	// /console/codec for admins, from the CodecOrigins (Temporal UI
	// origins, "https://temporal.example.com"); see codecServer.
	Codec        *codec.Codec
	CodecOrigins []string
	// Secure marks cookies Secure (the console is served over HTTPS).
	Secure bool
	// ReportTTL is how long a computed funnel report is shown before it is
	// computed again (in the background); a minute when zero.
	ReportTTL time.Duration
	Log       *slog.Logger
	// Now is the clock for sessions, periods and sign-in limits; time.Now
	// when nil.
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	opt Options
	// life ends the console's background work (reports, checks) on Close.
	life     context.Context
	stop     context.CancelFunc
	hashing  chan struct{}
	pages    map[string]*template.Template
	sessions *sessions
	logins   *limiter
	decoy    []byte
	reports  *reportCache
	checks   *checker
}

// New makes the console.
func New(opt Options) (*Console, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if len(opt.LinkKeys) == 0 {
		return nil, errors.New("console: no link secret to sign sessions with")
	}
	if opt.Intake == nil {
		return nil, errors.New("console: no intake")
	}
	if opt.ReportTTL <= 0 {
		opt.ReportTTL = defaultCacheTTL
	}
	if opt.ProxyHeader != "" && len(opt.ProxyTrusted) == 0 {
		return nil, errors.New("console: a proxy header needs the proxy's addresses (CONSOLE_PROXY_TRUSTED): anyone else could send it")
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	// The decoy costs what the dearest account costs, so no name answers
	// slower than an unknown one.
	cost := bcrypt.DefaultCost
	for _, a := range opt.Accounts {
		if n, err := bcrypt.Cost([]byte(a.Hash)); err == nil && n > cost {
			cost = n
		}
	}
	decoy, err := bcrypt.GenerateFromPassword(random[:24], cost)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	key := (&sessions{key: opt.LinkKeys[0].Secret}).mac("nurture console sessions v1")
	life, stop := context.WithCancel(context.Background())
	c := &Console{
		opt:      opt,
		life:     life,
		stop:     stop,
		hashing:  make(chan struct{}, 2),
		pages:    pages,
		sessions: &sessions{key: []byte(key), now: opt.Now, secure: opt.Secure},
		logins:   newLimiter(opt.Now, loginWindow),
		decoy:    decoy,
		reports:  newReportCache(life, opt.DB, opt.Now, opt.ReportTTL, opt.Log),
		checks:   &checker{life: life, in: opt.Intake, now: opt.Now, log: opt.Log},
	}
	return c, nil
}

// Handler routes the console's pages and actions, all under Prefix.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	assets, _ := fs.Sub(assetFS, "assets")
	mux.Handle("GET "+Prefix+"/assets/", http.StripPrefix(Prefix+"/assets/", assetServer(assets)))
	mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"/login", c.login)
	mux.HandleFunc("POST "+Prefix+"/logout", c.signedIn(seeLeads, c.logout))
	mux.HandleFunc("GET "+Prefix+"/{$}", c.signedIn(seeLeads, c.home))
	mux.HandleFunc("GET "+Prefix+"/journeys", c.signedIn(seeMarketing, c.journeys))
	mux.HandleFunc("GET "+Prefix+"/journeys/{id}", c.signedIn(seeMarketing, c.journey))
	mux.HandleFunc("POST "+Prefix+"/journeys/{id}/pause", c.signedIn(operate, c.pause))
	mux.HandleFunc("POST "+Prefix+"/journeys/{id}/resume", c.signedIn(operate, c.resume))
	mux.HandleFunc("GET "+Prefix+"/funnel", c.signedIn(seeMarketing, c.funnel))
	mux.HandleFunc("GET "+Prefix+"/leads", c.signedIn(seeLeads, c.leads))
	mux.HandleFunc("GET "+Prefix+"/leads/{id}", c.signedIn(seeLeads, c.lead))
	mux.HandleFunc("POST "+Prefix+"/leads/{id}/verdict", c.signedIn(giveVerdicts, c.verdict))
	mux.HandleFunc("POST "+Prefix+"/leads/{id}/task", c.signedIn(giveVerdicts, c.taskOutcome))
	mux.HandleFunc("POST "+Prefix+"/leads/{id}/remove", c.signedIn(operate, c.remove))
	mux.HandleFunc("GET "+Prefix+"/inbox", c.signedIn(seeLeads, c.inbox))
	mux.HandleFunc("GET "+Prefix+"/attention", c.signedIn(seeMarketing, c.attention))
	mux.HandleFunc("POST "+Prefix+"/attention/check", c.signedIn(operate, c.check))
	if c.opt.Codec != nil {
		mux.HandleFunc(Prefix+"/codec/", c.codecServer())
	}
	return secured(mux)
}

// Warm computes the default funnel reports in the background, so the first
// person to open the funnel does not wait for them.
func (c *Console) Warm() {
	go c.reports.warm(c.life)
}

// Close ends the console's background work (a report being computed, a
// check), so the database pool it uses can close without waiting on it.
func (c *Console) Close() {
	c.stop()
}

// secured sets the headers every answer carries: no framing, no scripts
// but the console's own, nothing cached.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Mermaid draws its SVG with inline styles.
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/assets/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// viewer is who is looking at a page, and what the page's forms need.
type viewer struct {
	Account Account
	CSRF    string
}

func (v viewer) May(p string) bool {
	switch p {
	case "marketing":
		return v.Account.Role.may(seeMarketing)
	case "verdicts":
		return v.Account.Role.may(giveVerdicts)
	case "operate":
		return v.Account.Role.may(operate)
	}
	return v.Account.Role.may(seeLeads)
}

type viewerKey struct{}

func viewerOf(r *http.Request) viewer {
	v, _ := r.Context().Value(viewerKey{}).(viewer)
	return v
}

// signedIn lets a request through when its session's role has the
// permission (and a POST carries the session's CSRF token); a request
// without a session goes to sign in, one of a role without the permission
// is refused.
func (c *Console) signedIn(need permission, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, ok := c.session(w, r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			// 403, not 401: the console signs in with a form, not an HTTP
			// authentication scheme a WWW-Authenticate header could name.
			c.refuse(w, r, http.StatusForbidden, "You are not signed in (or your session ended). Sign in and try again.")
			return
		}
		v := viewer{Account: ss.account, CSRF: c.sessions.csrf(ss)}
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, v))
		if !ss.account.Role.may(need) {
			c.refuse(w, r, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not %s.", ss.account.Role, need))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				c.refuse(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
				return
			}
			if !constantEqual(r.PostForm.Get("csrf"), v.CSRF) {
				c.refuse(w, r, http.StatusForbidden, "The form's security token is missing or stale (was the page open in another session?). Reload the page and try again.")
				return
			}
		}
		next(w, r)
	}
}

// session is the request's session: its cookie's, or, behind a single
// sign-on proxy, the proxy's user's (a cookie is issued for it, so forms
// carry a CSRF token like any other).
func (c *Console) session(w http.ResponseWriter, r *http.Request) (session, bool) {
	ss, ok := c.sessions.read(r, c.opt.Accounts)
	if c.opt.ProxyHeader == "" {
		return ss, ok
	}
	// Only the proxy's own connections say who is signed in, and only once:
	// a proxy that appends to a header the client sent leaves two.
	values := r.Header.Values(c.opt.ProxyHeader)
	if len(values) != 1 || !c.fromProxy(r) {
		return session{}, false
	}
	user := values[0]
	a, known := c.opt.Accounts[user]
	switch {
	case user == "" || !known:
		return session{}, false
	case ok && ss.account.Name == user:
		return ss, true
	}
	return c.sessions.issue(w, a), true
}

// fromProxy says whether a request came over a connection from the
// single sign-on proxy.
func (c *Console) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range c.opt.ProxyTrusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// refuse answers a refusal as a page that says why.
func (c *Console) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "message", map[string]any{"Title": http.StatusText(status), "Error": msg})
}

// render writes a page; an error in a template is logged, and the person
// gets a plain apology.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, data map[string]any) {
	t, ok := c.pages[page]
	if !ok {
		c.opt.Log.Error("console: no such page", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["Viewer"] = viewerOf(r)
	data["Page"] = page
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		c.opt.Log.Error("console: render", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// failed answers an error of the database or Temporal: logged, and said.
func (c *Console) failed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	// The detail goes to the log; people get what they can act on.
	c.opt.Log.Warn("console: page failed", "route", r.Pattern, "error", err)
	c.refuse(w, r, http.StatusServiceUnavailable, unavailable)
}
