// Package links makes and checks the signed links in nurture's emails: the
// one-click unsubscribe link (RFC 8058). A token names the lead and the
// address and carries an HMAC-SHA256 over both, so a link cannot be forged
// or pointed at another address; it does not expire, since an unsubscribe
// link must keep working for as long as the mail sits in an inbox.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Signer makes and checks tokens with one secret.
type Signer struct {
	Secret []byte
	// BaseURL is where the webhook receiver is reachable from the internet.
	BaseURL string
}

// ErrBadToken is returned for a token that was not made with our secret.
var ErrBadToken = errors.New("link token is invalid")

var enc = base64.RawURLEncoding

// Token signs purpose, lead ID and address.
func (s Signer) Token(purpose, leadID, email string) string {
	payload := purpose + "\n" + leadID + "\n" + email
	mac := hmac.New(sha256.New, s.Secret)
	mac.Write([]byte(payload))
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(mac.Sum(nil))
}

// Verify checks a token for the purpose and returns the lead ID and address.
func (s Signer) Verify(purpose, token string) (leadID, email string, err error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrBadToken
	}
	payload, err1 := enc.DecodeString(p)
	got, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return "", "", ErrBadToken
	}
	mac := hmac.New(sha256.New, s.Secret)
	mac.Write(payload)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return "", "", ErrBadToken
	}
	parts := strings.Split(string(payload), "\n")
	if len(parts) != 3 || parts[0] != purpose {
		return "", "", ErrBadToken
	}
	return parts[1], parts[2], nil
}

// UnsubscribeURL is the one-click unsubscribe link for a lead.
func (s Signer) UnsubscribeURL(leadID, email string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/unsubscribe/" + s.Token("unsubscribe", leadID, email)
}
