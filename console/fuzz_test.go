package console

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// FuzzAccounts: any accounts file is read or refused with a message, and
// every account read has a one-word name, a role and a usable hash.
func FuzzAccounts(f *testing.F) {
	f.Add([]byte("# the console's accounts\nada marketer $2a$04$Jx1F5n1RrJ.1sOr9u4a0ReIGC2mTHgVrT/5e/N6Nq1I7YmxyEJ1pa\nbob sales -\n"))
	f.Add([]byte("ada owner -"))
	f.Add([]byte("ada sales"))
	f.Add([]byte("ada sales $2a$nothash"))
	f.Add([]byte("ada sales -\nada admin -"))
	f.Fuzz(func(t *testing.T, data []byte) {
		as, err := ParseAccounts(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "accounts") && !strings.HasPrefix(err.Error(), "read accounts") {
				t.Fatalf("an error that does not say where: %v", err)
			}
			return
		}
		for name, a := range as {
			if name != a.Name || name == "" || strings.ContainsAny(name, " \t\r\n") || len(name) > maxName {
				t.Fatalf("bad name %q", name)
			}
			if a.Role != RoleSales && a.Role != RoleMarketer && a.Role != RoleAdmin {
				t.Fatalf("bad role %q", a.Role)
			}
			if a.Hash != "-" {
				if _, err := bcrypt.Cost([]byte(a.Hash)); err != nil {
					t.Fatalf("bad hash %q", a.Hash)
				}
			}
		}
	})
}

// FuzzSessionCookie: no cookie but one the console issued opens a
// session.
func FuzzSessionCookie(f *testing.F) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := &sessions{key: []byte("a key of the console's own, 32 bytes"), now: func() time.Time { return now },
		nonce: func() string { return "0123456789abcdef0123456789abcdef" }}
	accounts := Accounts{"ada": {Name: "ada", Role: RoleMarketer, Hash: "-"}}
	rec := httptest.NewRecorder()
	issued := s.issue(rec, accounts["ada"])
	value := strings.TrimPrefix(strings.Split(rec.Header().Get("Set-Cookie"), ";")[0], sessionCookie+"=")
	f.Add(value)
	f.Add("")
	f.Add("YWRh.1795435200.00000000000000000000000000000000.x")
	f.Add(strings.Replace(value, "YWRh", "Ym9i", 1))
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/console/", nil)
		req.Header.Set("Cookie", sessionCookie+"="+v)
		ss, ok := s.read(req, accounts)
		if ok && (ss.nonce != issued.nonce || ss.account.Name != "ada") {
			t.Fatalf("a forged cookie opened a session: %q", v)
		}
	})
}

// FuzzNextPage: after signing in, a person goes to a console page, never
// elsewhere.
func FuzzNextPage(f *testing.F) {
	for _, s := range []string{"/console/leads?q=ada", "https://evil.test/", "//evil.test/console/", "/console/../x", "/console/login", "\\\\evil.test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		next := nextPage(s)
		u, err := url.Parse(next)
		if err != nil || u.Host != "" || u.Scheme != "" || !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") {
			t.Fatalf("%q leads to %q", s, next)
		}
	})
}

// The shipped example of an accounts file reads, with no account in it.
func TestExampleAccounts(t *testing.T) {
	f, err := os.Open("../console-accounts.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	as, err := ParseAccounts(f)
	if err != nil || len(as) != 0 {
		t.Fatalf("accounts %v, error %v", as, err)
	}
}

// A session ends when its account's password or role changes, or the
// account goes.
func TestSessionEndsWithItsAccount(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := &sessions{key: []byte("a key of the console's own, 32 bytes"), now: func() time.Time { return now }}
	ada := Account{Name: "ada", Role: RoleMarketer, Hash: "$2a$04$one"}
	rec := httptest.NewRecorder()
	s.issue(rec, ada)
	req := httptest.NewRequest("GET", "/console/", nil)
	req.Header.Set("Cookie", strings.Split(rec.Header().Get("Set-Cookie"), ";")[0])
	for _, c := range []struct {
		what     string
		accounts Accounts
		ok       bool
	}{
		{"unchanged", Accounts{"ada": ada}, true},
		{"another password", Accounts{"ada": {Name: "ada", Role: RoleMarketer, Hash: "$2a$04$two"}}, false},
		{"another role", Accounts{"ada": {Name: "ada", Role: RoleAdmin, Hash: ada.Hash}}, false},
		{"removed", Accounts{}, false},
	} {
		if _, ok := s.read(req, c.accounts); ok != c.ok {
			t.Errorf("%s: session valid %v, want %v", c.what, ok, c.ok)
		}
	}
}
