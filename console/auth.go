package console

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what an account may do.
type Role string

// The roles.
const (
	// RoleSales sees leads and the sales inbox, gives verdicts and task
	// outcomes.
	RoleSales Role = "sales"
	// RoleMarketer sees everything, pauses and resumes journeys and
	// removes leads; verdicts are sales'.
	RoleMarketer Role = "marketer"
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
)

// permission is one kind of thing a role may or may not do.
type permission int

const (
	seeLeads permission = iota
	// seeMarketing: journeys, the funnel, attention.
	seeMarketing
	giveVerdicts
	// operate: pause and resume journeys, remove leads, check for
	// journeys that should run.
	operate
	// readHistories: see leads' Temporal histories decoded, personal
	// data included (the codec endpoint); admins only.
	readHistories
)

func (p permission) String() string {
	switch p {
	case seeLeads:
		return "see leads"
	case seeMarketing:
		return "see journeys, the funnel and what needs attention"
	case giveVerdicts:
		return "give sales' verdicts and task outcomes"
	case readHistories:
		return "read leads' Temporal histories decoded"
	}
	return "pause journeys, remove leads or run checks"
}

func (r Role) may(p permission) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleMarketer:
		return p != giveVerdicts && p != readHistories
	case RoleSales:
		return p == seeLeads || p == giveVerdicts
	}
	return false
}

// Account is one person who may sign in.
type Account struct {
	Name string
	Role Role
	// Hash is the password's bcrypt hash; "-" for an account that signs in
	// only through the single sign-on proxy.
	Hash string
}

// Accounts are the console's accounts by name.
type Accounts map[string]Account

// Limits of an accounts file: it comes from an operator, but is a parser
// of text all the same.
const (
	maxAccountsFile = 1 << 20
	maxName         = 100
)

// ParseAccounts reads an accounts file: one account a line, "NAME ROLE
// HASH", where ROLE is sales, marketer or admin and HASH a bcrypt hash
// (`starter console-account` makes the line) or "-" for an account that
// signs in only through a single sign-on proxy. Blank lines and lines
// starting with # are skipped.
func ParseAccounts(r io.Reader) (Accounts, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxAccountsFile+1))
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	if len(data) > maxAccountsFile {
		return nil, fmt.Errorf("accounts: the file is over %d bytes", maxAccountsFile)
	}
	out := Accounts{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxAccountsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("accounts line %d: want NAME ROLE HASH, got %d fields", n, len(f))
		}
		a := Account{Name: f[0], Role: Role(f[1]), Hash: f[2]}
		switch {
		case len(a.Name) > maxName:
			return nil, fmt.Errorf("accounts line %d: the name is over %d bytes", n, maxName)
		case a.Role != RoleSales && a.Role != RoleMarketer && a.Role != RoleAdmin:
			return nil, fmt.Errorf("accounts line %d: role %q: use sales, marketer or admin", n, a.Role)
		case a.Hash != "-":
			if _, err := bcrypt.Cost([]byte(a.Hash)); err != nil {
				return nil, fmt.Errorf("accounts line %d: %s's password hash is not a bcrypt hash (make one with starter console-account)", n, a.Name)
			}
		}
		if _, dup := out[a.Name]; dup {
			return nil, fmt.Errorf("accounts line %d: %s is named twice", n, a.Name)
		}
		out[a.Name] = a
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	return out, nil
}

// AccountLine is the accounts-file line of an account with a password.
func AccountLine(name string, role Role, password string) (string, error) {
	switch {
	case name == "" || strings.ContainsAny(name, " \t\r\n") || len(name) > maxName:
		return "", fmt.Errorf("name %q: one word of at most %d bytes", name, maxName)
	case role != RoleSales && role != RoleMarketer && role != RoleAdmin:
		return "", fmt.Errorf("role %q: use sales, marketer or admin", role)
	case len(password) < 12:
		return "", errors.New("the password is shorter than 12 characters")
	case len(password) > 72:
		return "", errors.New("the password is longer than 72 bytes (bcrypt reads no more)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash the password: %w", err)
	}
	return fmt.Sprintf("%s %s %s", name, role, hash), nil
}

// check says whether name and password sign in. An unknown name is
// compared against decoy, a hash of a random password, so it takes as long
// as a known name with a wrong password.
func (as Accounts) check(name, password string, decoy []byte) (Account, bool) {
	a, ok := as[name]
	if !ok || a.Hash == "-" {
		_ = bcrypt.CompareHashAndPassword(decoy, []byte(password))
		return Account{}, false
	}
	if bcrypt.CompareHashAndPassword([]byte(a.Hash), []byte(password)) != nil {
		return Account{}, false
	}
	return a, true
}

// Cookie names.
const (
	sessionCookie = "nurture_session"
	loginCookie   = "nurture_login"
)

// sessionLife is how long a sign-in lasts.
const sessionLife = 12 * time.Hour

// session is a signed-in account, as its cookie carries it.
type session struct {
	account Account
	nonce   string
}

// sessions signs and reads session cookies. A cookie is the name, its
// expiry and a random nonce, signed with a key the receivers share (made
// from LINK_SECRET), so any receiver behind a load balancer reads it and
// none keeps state. The signature covers the account's password hash and
// role: a password or role change ends the account's sessions.
type sessions struct {
	key    []byte
	now    func() time.Time
	secure bool
	// nonce makes a session's nonce; randomNonce when nil (tests fix it).
	nonce func() string
}

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// issue sets a session cookie for an account.
func (s *sessions) issue(w http.ResponseWriter, a Account) session {
	nonce := randomNonce()
	if s.nonce != nil {
		nonce = s.nonce()
	}
	exp := strconv.FormatInt(s.now().Add(sessionLife).Unix(), 10)
	name := base64.RawURLEncoding.EncodeToString([]byte(a.Name))
	value := strings.Join([]string{name, exp, nonce, s.mac("session", a.Name, string(a.Role), a.Hash, exp, nonce)}, ".")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: Prefix + "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(sessionLife.Seconds())})
	return session{account: a, nonce: nonce}
}

// read finds the session a request carries, if it is valid and its
// account still exists as it was.
func (s *sessions) read(r *http.Request, accounts Accounts) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) > 1024 {
		return session{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 4 {
		return session{}, false
	}
	name, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return session{}, false
	}
	a, ok := accounts[string(name)]
	if !ok {
		return session{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || s.now().Unix() >= exp {
		return session{}, false
	}
	want := s.mac("session", a.Name, string(a.Role), a.Hash, parts[1], parts[2])
	if !hmac.Equal([]byte(want), []byte(parts[3])) {
		return session{}, false
	}
	return session{account: a, nonce: parts[2]}, true
}

func (s *sessions) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix + "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// csrf is the token a session's forms carry.
func (s *sessions) csrf(ss session) string { return s.mac("csrf", ss.nonce) }

// loginToken is the token the sign-in form carries, tied to a cookie set
// when the form was served: a page elsewhere cannot sign a browser in to
// an account of its choosing.
func (s *sessions) loginToken(w http.ResponseWriter, r *http.Request) string {
	nonce := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 32 {
		nonce = c.Value
	} else {
		nonce = randomNonce()
		http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: nonce, Path: Prefix + "/", HttpOnly: true, Secure: s.secure,
			SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	}
	return s.mac("login", nonce)
}

func (s *sessions) loginTokenValid(r *http.Request, token string) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil || len(c.Value) != 32 {
		return false
	}
	return hmac.Equal([]byte(s.mac("login", c.Value)), []byte(token))
}

// limiter counts sign-in attempts by key (the client's address, the name
// tried) in a sliding window and refuses a key with too many. An attempt
// counts as a failure from the moment it is let through, under the same
// lock as the check, and is taken back if it succeeds: a burst of
// attempts sent at once gets no more guesses than the same attempts one
// after another. The counts live in the process: behind a load balancer
// each receiver counts its own.
type limiter struct {
	mu     sync.Mutex
	now    func() time.Time
	window time.Duration
	fails  map[string][]time.Time
}

// maxLimiterKeys bounds the limiter's memory under a flood of names.
const maxLimiterKeys = 10000

func newLimiter(now func() time.Time, window time.Duration) *limiter {
	return &limiter{now: now, window: window, fails: map[string][]time.Time{}}
}

// recent drops a key's failures that left the window; the caller holds mu.
func (l *limiter) recent(key string) []time.Time {
	cut := l.now().Add(-l.window)
	ts := l.fails[key]
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = ts
	return ts
}

// limit is a key and how many failures it may have in the window.
type limit struct {
	key string
	max int
}

// attempt lets an attempt through when no key is at its limit, and counts
// it against every key at once; it returns how long to wait otherwise.
// done takes the attempt back when it succeeded.
func (l *limiter) attempt(limits ...limit) (wait time.Duration, done func(ok bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lim := range limits {
		if ts := l.recent(lim.key); len(ts) >= lim.max {
			wait = max(wait, ts[len(ts)-lim.max].Add(l.window).Sub(l.now()))
		}
	}
	if wait > 0 {
		return wait, func(bool) {}
	}
	at := l.now()
	for _, lim := range limits {
		if _, known := l.fails[lim.key]; !known && len(l.fails) >= maxLimiterKeys {
			l.makeRoom()
		}
		l.fails[lim.key] = append(l.fails[lim.key], at)
	}
	return 0, func(ok bool) {
		if !ok {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, lim := range limits {
			ts := l.fails[lim.key]
			if i := slices.Index(ts, at); i >= 0 {
				l.fails[lim.key] = slices.Delete(ts, i, i+1)
			}
			if len(l.fails[lim.key]) == 0 {
				delete(l.fails, lim.key)
			}
		}
	}
}

// makeRoom makes room for a new key: the keys whose failures all
// left the window go first, then the keys whose last failure is oldest,
// those at a limit last; the caller holds mu.
func (l *limiter) makeRoom() {
	for k := range l.fails {
		l.recent(k)
	}
	if len(l.fails) < maxLimiterKeys {
		return
	}
	type entry struct {
		key   string
		last  time.Time
		count int
	}
	entries := make([]entry, 0, len(l.fails))
	for k, ts := range l.fails {
		entries = append(entries, entry{k, ts[len(ts)-1], len(ts)})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if (a.count >= loginFailsName) != (b.count >= loginFailsName) {
			if a.count >= loginFailsName {
				return 1
			}
			return -1
		}
		return a.last.Compare(b.last)
	})
	for _, e := range entries[:len(entries)/10+1] {
		delete(l.fails, e.key)
	}
}

// clientIP is the address the request came from: the connection's, never
// a header a client can set; an IPv6 address counts by its /64, which one
// client commonly holds whole. Behind a proxy every request comes from the
// proxy, so the per-address limit is the proxy's; the per-name limit still
// holds.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if addr.Is6() && !addr.Is4In6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.Unmap().String()
}

// LoadAccounts reads an accounts file (see ParseAccounts). A file with no
// account is not a mistake (the shipped example has none): nobody signs in,
// and the sign-in page says why.
func LoadAccounts(path string) (Accounts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("console accounts: %w", err)
	}
	defer f.Close()
	as, err := ParseAccounts(f)
	if err != nil {
		return nil, fmt.Errorf("console accounts %s: %w", path, err)
	}
	return as, nil
}

// ParseTrusted reads the single sign-on proxy's addresses: IP addresses
// or CIDR prefixes, comma-separated.
func ParseTrusted(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("proxy address %q: an IP address or a prefix like 10.0.0.0/8", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
