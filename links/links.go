// Package links makes and checks the signed links in nurture's emails: the
// one-click unsubscribe link (RFC 8058), tracked clicks, the open pixel and
// the verdict buttons of a hand-off email.
//
// A token is "v1.KID.PAYLOAD.MAC": the ID of the key that signed it, its
// claims as base64url JSON, and an HMAC-SHA256 over "v1.KID.PAYLOAD". The
// key ID lets a secret be rotated without breaking links already in
// inboxes: new links are signed with the first key, and every key still
// configured verifies. Claims name the lead by ID, never by address.
// Unsubscribe links never expire (a mail can sit in an inbox for years);
// click, open and verdict links do. A click link carries its target URL
// inside the signed claims, so the redirect can only go where nurture
// sent it: an invalid token is refused, never followed.
//
// Tokens of the first release ("PAYLOAD.MAC" over purpose, lead ID and
// address) are still accepted for unsubscribe, with any configured key.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/keyring"
)

// MinSecret is the shortest secret accepted: 32 bytes, the size of the
// HMAC-SHA256 output, below which a secret is weaker than the MAC.
const MinSecret = keyring.MinSecret

// MaxToken bounds a token before anything decodes it; a click token holds
// its URL, and URLs in emails stay well under 2 KB.
const MaxToken = 4096

// Purpose says what a token may be used for.
type Purpose string

// Purposes.
const (
	Unsubscribe Purpose = "u"
	Click       Purpose = "c"
	Open        Purpose = "o"
	Verdict     Purpose = "v"
)

// Lifetimes of links that expire.
const (
	// TrackingLife is how long click and open links record engagement; a
	// click after it still redirects, without a token it would not.
	TrackingLife = 365 * 24 * time.Hour
	// VerdictLife is how long sales may answer from the hand-off email.
	VerdictLife = 60 * 24 * time.Hour
)

// Key is one signing secret with its ID.
type Key = keyring.Key

// ParseKeys reads "id=secret,id2=secret2" (the first signs, all verify) or
// a single secret, which gets the ID "1". Every secret must be at least
// MinSecret bytes.
func ParseKeys(s string) ([]Key, error) {
	return keyring.Setting{Env: "LINK_SECRET", What: "link"}.Parse(s)
}

// Signer makes and checks tokens.
type Signer struct {
	// Keys sign (the first) and verify (all).
	Keys []Key
	// BaseURL is where the webhook receiver is reachable from the internet.
	BaseURL string
	// Now is the clock for expiry; time.Now when nil.
	Now func() time.Time
}

func (s Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Claims are what a token says.
type Claims struct {
	Purpose Purpose `json:"p"`
	LeadID  string  `json:"l"`
	// SendKey names the email a click or open came from.
	SendKey string `json:"k,omitempty"`
	// ContentID is the content item of that email.
	ContentID string `json:"c,omitempty"`
	// URL is where a click goes.
	URL string `json:"u,omitempty"`
	// HandoffID and Verdict are what a verdict button answers.
	HandoffID int64  `json:"h,omitempty"`
	Verdict   string `json:"v,omitempty"`
	// Expires is Unix seconds; 0 never.
	Expires int64 `json:"x,omitempty"`
}

// Errors Parse returns.
var (
	// ErrBadToken: not a token we made, or altered.
	ErrBadToken = errors.New("link token is invalid")
	// ErrExpired: a token we made, past its lifetime.
	ErrExpired = errors.New("link has expired")
)

// enc is strict, so a token has one spelling: stray bits at the end of a
// part do not make another token that verifies.
var enc = base64.RawURLEncoding.Strict()

// Token signs claims with the first key.
func (s Signer) Token(c Claims) (string, error) {
	if len(s.Keys) == 0 {
		return "", errors.New("no link key to sign with")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode link claims: %w", err)
	}
	k := s.Keys[0]
	head := "v1." + k.ID + "." + enc.EncodeToString(payload)
	mac := hmac.New(sha256.New, k.Secret)
	mac.Write([]byte(head))
	tok := head + "." + enc.EncodeToString(mac.Sum(nil))
	if len(tok) > MaxToken {
		return "", fmt.Errorf("link token would be %d bytes; at most %d (is the URL that long?)", len(tok), MaxToken)
	}
	return tok, nil
}

// Parse checks a token for a purpose and returns its claims.
func (s Signer) Parse(want Purpose, token string) (Claims, error) {
	var c Claims
	if len(token) > MaxToken {
		return c, ErrBadToken
	}
	if !strings.HasPrefix(token, "v1.") {
		return s.parseLegacy(want, token)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 {
		return c, ErrBadToken
	}
	key, ok := s.key(parts[1])
	if !ok {
		return c, ErrBadToken
	}
	got, err := enc.DecodeString(parts[3])
	if err != nil {
		return c, ErrBadToken
	}
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write([]byte(strings.Join(parts[:3], ".")))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return c, ErrBadToken
	}
	payload, err := enc.DecodeString(parts[2])
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Purpose != want || c.LeadID == "" {
		return Claims{}, ErrBadToken
	}
	if c.Expires != 0 && s.now().Unix() > c.Expires {
		return c, ErrExpired
	}
	return c, nil
}

func (s Signer) key(id string) (Key, bool) {
	for _, k := range s.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// parseLegacy accepts the unsubscribe tokens of the first release:
// base64url("unsubscribe\nLEAD\nEMAIL") "." base64url(HMAC), with any key.
func (s Signer) parseLegacy(want Purpose, token string) (Claims, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok || want != Unsubscribe {
		return Claims{}, ErrBadToken
	}
	payload, err1 := enc.DecodeString(p)
	got, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrBadToken
	}
	for _, k := range s.Keys {
		mac := hmac.New(sha256.New, k.Secret)
		mac.Write(payload)
		if hmac.Equal(got, mac.Sum(nil)) {
			parts := strings.Split(string(payload), "\n")
			if len(parts) != 3 || parts[0] != "unsubscribe" || parts[1] == "" {
				return Claims{}, ErrBadToken
			}
			return Claims{Purpose: Unsubscribe, LeadID: parts[1]}, nil
		}
	}
	return Claims{}, ErrBadToken
}

// Paths the receiver serves links on; a token follows each.
const (
	UnsubscribePath = "/unsubscribe/"
	ClickPath       = "/c/"
	OpenPath        = "/o/"
	VerdictPath     = "/verdict/"
)

func (s Signer) link(path string, c Claims) (string, error) {
	tok, err := s.Token(c)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s.BaseURL, "/") + path + tok, nil
}

// UnsubscribeURL is the one-click unsubscribe link for a lead; it never
// expires.
func (s Signer) UnsubscribeURL(leadID string) (string, error) {
	return s.link(UnsubscribePath, Claims{Purpose: Unsubscribe, LeadID: leadID})
}

// ClickURL is a tracked link to target from one email. Only http and https
// targets are tracked.
func (s Signer) ClickURL(leadID, sendKey, contentID, target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("click target %q is not an http(s) URL", target)
	}
	return s.link(ClickPath, Claims{Purpose: Click, LeadID: leadID, SendKey: sendKey, ContentID: contentID, URL: target,
		Expires: s.now().Add(TrackingLife).Unix()})
}

// OpenURL is the open pixel of one email.
func (s Signer) OpenURL(leadID, sendKey, contentID string) (string, error) {
	return s.link(OpenPath, Claims{Purpose: Open, LeadID: leadID, SendKey: sendKey, ContentID: contentID,
		Expires: s.now().Add(TrackingLife).Unix()})
}

// VerdictURL is a button of the hand-off email: this verdict on this
// hand-off.
func (s Signer) VerdictURL(leadID string, handoffID int64, verdict string) (string, error) {
	return s.link(VerdictPath, Claims{Purpose: Verdict, LeadID: leadID, HandoffID: handoffID, Verdict: verdict,
		Expires: s.now().Add(VerdictLife).Unix()})
}

// String names a token for logs without its secret parts.
func (c Claims) String() string {
	s := string(c.Purpose) + " lead " + c.LeadID
	if c.HandoffID != 0 {
		s += " hand-off " + strconv.FormatInt(c.HandoffID, 10)
	}
	return s
}
