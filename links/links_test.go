package links_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/links"
)

const (
	secretA = "0123456789abcdef0123456789abcdef-a"
	secretB = "0123456789abcdef0123456789abcdef-b"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func signer(keys string, now time.Time) links.Signer {
	k, err := links.ParseKeys(keys)
	if err != nil {
		panic(err)
	}
	return links.Signer{Keys: k, BaseURL: "https://hooks.acme.test/", Now: func() time.Time { return now }}
}

func token(t *testing.T, u string, path string) string {
	t.Helper()
	require.True(t, strings.HasPrefix(u, "https://hooks.acme.test"+path), u)
	return strings.TrimPrefix(u, "https://hooks.acme.test"+path)
}

func TestLinks(t *testing.T) {
	t.Parallel()
	s := signer("k1="+secretA, t0)
	u, err := s.UnsubscribeURL("lead-1")
	require.NoError(t, err)
	c, err := s.Parse(links.Unsubscribe, token(t, u, links.UnsubscribePath))
	require.NoError(t, err)
	require.Equal(t, links.Claims{Purpose: links.Unsubscribe, LeadID: "lead-1"}, c)

	u, err = s.ClickURL("lead-1", "lead-1/run/s1/1", "case-study", "https://acme.test/case?utm=x")
	require.NoError(t, err)
	c, err = s.Parse(links.Click, token(t, u, links.ClickPath))
	require.NoError(t, err)
	require.Equal(t, "https://acme.test/case?utm=x", c.URL)
	require.Equal(t, "case-study", c.ContentID)
	_, err = s.Parse(links.Unsubscribe, token(t, u, links.ClickPath))
	require.ErrorIs(t, err, links.ErrBadToken, "a click token does not unsubscribe")
	_, err = s.ClickURL("lead-1", "k", "c", "javascript:alert(1)")
	require.Error(t, err)

	// Click, open and verdict links expire; unsubscribe links never do.
	later := signer("k1="+secretA, t0.Add(links.TrackingLife+time.Hour))
	_, err = later.Parse(links.Click, token(t, u, links.ClickPath))
	require.ErrorIs(t, err, links.ErrExpired)
	v, err := s.VerdictURL("lead-1", 7, "accepted")
	require.NoError(t, err)
	_, err = later.Parse(links.Verdict, token(t, v, links.VerdictPath))
	require.ErrorIs(t, err, links.ErrExpired)
	un, _ := s.UnsubscribeURL("lead-1")
	_, err = later.Parse(links.Unsubscribe, token(t, un, links.UnsubscribePath))
	require.NoError(t, err)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old := signer("k1="+secretA, t0)
	u, err := old.UnsubscribeURL("lead-1")
	require.NoError(t, err)
	tok := token(t, u, links.UnsubscribePath)
	// The new key signs; the old one still verifies what is in inboxes.
	rotated := signer("k2="+secretB+",k1="+secretA, t0)
	_, err = rotated.Parse(links.Unsubscribe, tok)
	require.NoError(t, err)
	nu, _ := rotated.UnsubscribeURL("lead-1")
	require.Contains(t, nu, "/unsubscribe/v1.k2.")
	// Once the old key is dropped, its links stop working.
	_, err = signer("k2="+secretB, t0).Parse(links.Unsubscribe, tok)
	require.ErrorIs(t, err, links.ErrBadToken)
}

func TestLegacyUnsubscribeTokensStillWork(t *testing.T) {
	t.Parallel()
	// The first release signed "unsubscribe\nLEAD\nEMAIL" with one secret.
	payload := "unsubscribe\nlead-1\nada@acme.test"
	mac := hmac.New(sha256.New, []byte(secretA))
	mac.Write([]byte(payload))
	enc := base64.RawURLEncoding
	legacy := enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(mac.Sum(nil))
	c, err := signer("k1="+secretA, t0).Parse(links.Unsubscribe, legacy)
	require.NoError(t, err)
	require.Equal(t, "lead-1", c.LeadID)
	_, err = signer("k1="+secretA, t0).Parse(links.Click, legacy)
	require.ErrorIs(t, err, links.ErrBadToken, "legacy tokens only ever unsubscribed")
}

func TestForgeries(t *testing.T) {
	t.Parallel()
	s := signer("k1="+secretA, t0)
	u, _ := s.ClickURL("lead-1", "k", "c", "https://acme.test/")
	tok := token(t, u, links.ClickPath)
	parts := strings.Split(tok, ".")
	other := signer("k1="+secretB, t0)
	ou, _ := other.ClickURL("lead-1", "k", "c", "https://evil.test/")
	otok := token(t, ou, links.ClickPath)
	for name, bad := range map[string]string{
		"other secret":    otok,
		"swapped payload": parts[0] + "." + parts[1] + "." + strings.Split(otok, ".")[2] + "." + parts[3],
		"unknown key":     parts[0] + ".k9." + parts[2] + "." + parts[3],
		"no signature":    strings.Join(parts[:3], "."),
		"not base64":      "v1.k1.!!!.???",
		"empty":           "",
		"huge":            "v1.k1." + strings.Repeat("A", links.MaxToken),
		"truncated":       tok[:len(tok)-2],
	} {
		_, err := s.Parse(links.Click, bad)
		require.ErrorIs(t, err, links.ErrBadToken, name)
	}
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	keys, err := links.ParseKeys(secretA)
	require.NoError(t, err)
	require.Equal(t, "1", keys[0].ID)
	for in, want := range map[string]string{
		"":                               "no link secret",
		"short":                          "is 5 bytes; at least 32",
		"a=" + secretA + ",a=" + secretB: `"a" is given twice`,
		"bad id!=" + secretA:             "use 1 to 16 letters",
	} {
		_, err := links.ParseKeys(in)
		require.ErrorContains(t, err, want, in)
	}
}

// FuzzParse: no token, however made, panics the parser or passes without
// the secret.
func FuzzParse(f *testing.F) {
	s := signer("k1="+secretA, t0)
	u, _ := s.ClickURL("lead-1", "k", "c", "https://acme.test/")
	f.Add(strings.TrimPrefix(u, "https://hooks.acme.test/c/"))
	f.Add("v1.k1.e30.AAAA")
	f.Add("abc.def")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		for _, p := range []links.Purpose{links.Unsubscribe, links.Click, links.Open, links.Verdict} {
			c, err := s.Parse(p, tok)
			if err != nil {
				continue
			}
			if c.LeadID == "" || c.Purpose != p {
				t.Fatalf("a token passed as %s with claims %+v: %q", p, c, tok)
			}
			// Only the token the signer makes for these claims verifies:
			// no other spelling of it does. (A first-release unsubscribe
			// token is spelled the old way.)
			if again, _ := s.Token(c); strings.HasPrefix(tok, "v1.") && again != tok {
				t.Fatalf("token %q verified, but the signer spells it %q", tok, again)
			}
		}
	})
}

// TestTokenHasOneSpelling: the MAC's last base64 character carries two
// spare bits; a token with them set is another spelling of the same MAC,
// and is refused.
func TestTokenHasOneSpelling(t *testing.T) {
	t.Parallel()
	s := signer("k1="+secretA, t0)
	u, err := s.UnsubscribeURL("lead-1")
	require.NoError(t, err)
	tok := token(t, u, links.UnsubscribePath)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	for spare := 1; spare < 4; spare++ {
		other := tok[:len(tok)-1] + string(alphabet[last^spare])
		_, err := s.Parse(links.Unsubscribe, other)
		require.ErrorIs(t, err, links.ErrBadToken, "%q is another spelling of %q", other, tok)
	}
}
