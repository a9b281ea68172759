// Package signature signs HTTP bodies between machines, both ways: the
// receiver checks the signatures of what websites, forms and the CRM send
// (package webhook), and the worker signs the hand-offs it posts to the
// CRM (package activities). The scheme is Stripe's, which many systems
// already know how to check:
//
//	Nurture-Signature: t=1764000000,v1=HEX
//
// where HEX is the HMAC-SHA256, under a shared secret, of the timestamp, a
// dot and the raw body.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Header carries the signature.
const Header = "Nurture-Signature"

// Sign is the Header value for a body sent at a time.
func Sign(secret []byte, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(MAC(secret, ts, body))
}

// MAC is the HMAC of a timestamp (as sent) and a body.
func MAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}
