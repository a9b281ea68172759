package sendgrid

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	// SignatureHeader holds the signature: base64 of an ASN.1 DER ECDSA
	// signature over SHA-256(timestamp + body).
	SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	// TimestampHeader holds when SendGrid signed, in seconds since 1970.
	TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// Bounds on the headers, checked before anything is decoded.
const (
	// maxSignature: a P-256 signature is at most 72 bytes of DER, 96 in
	// base64; anything much longer is not one.
	maxSignature = 256
	// maxTimestamp: seconds since 1970 fit in 11 digits until the year
	// 5138.
	maxTimestamp = 12
)

// ErrInvalidKey is wrapped by every error of ParsePublicKey.
var ErrInvalidKey = errors.New("invalid SendGrid verification key")

// ParsePublicKey reads the verification key SendGrid shows under Settings >
// Mail Settings > Signed Event Webhook Requests (or returns from GET
// /v3/user/webhooks/event/settings/signed): the base64 of a DER
// SubjectPublicKeyInfo holding an ECDSA P-256 key. The same key in PEM
// ("-----BEGIN PUBLIC KEY-----") is accepted too.
func ParsePublicKey(b64 string) (*ecdsa.PublicKey, error) {
	s := strings.TrimSpace(b64)
	if s == "" {
		return nil, fmt.Errorf("%w: it is empty; copy it from SendGrid's Settings > Mail Settings > Signed Event Webhook Requests", ErrInvalidKey)
	}
	var der []byte
	if strings.HasPrefix(s, "-----BEGIN") {
		block, _ := pem.Decode([]byte(s))
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: PEM text that is not one PUBLIC KEY block; SendGrid gives the key as one line of base64", ErrInvalidKey)
		}
		der = block.Bytes
	} else {
		var err error
		// SendGrid's key is standard base64 with padding; line breaks
		// from a copy are skipped by the decoder.
		if der, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("%w: not base64 (%v); SendGrid's key is one line of base64 that starts MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", ErrInvalidKey, err)
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a DER public key (SubjectPublicKeyInfo): %v", ErrInvalidKey, err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %s key; SendGrid signs with ECDSA P-256", ErrInvalidKey, keyKind(pub))
	}
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: an ECDSA key on %s; SendGrid signs with P-256", ErrInvalidKey, key.Curve.Params().Name)
	}
	return key, nil
}

func keyKind(pub any) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "an RSA"
	case ed25519.PublicKey:
		return "an Ed25519"
	case *ecdh.PublicKey:
		return "an X25519"
	}
	return fmt.Sprintf("a %T", pub)
}

// Why Verify refuses a request. Every refusal is a *VerifyError that
// wraps one of these, so errors.Is tells them apart (for metrics) and
// errors.As finds the *VerifyError (for the 401).
var (
	ErrNoSignature        = errors.New("no signature: the " + SignatureHeader + " header is missing; turn on Signed Event Webhook Requests in SendGrid's Mail Settings")
	ErrMalformedSignature = errors.New("the " + SignatureHeader + " header is not a base64 ASN.1 ECDSA signature")
	ErrNoTimestamp        = errors.New("no timestamp: the " + TimestampHeader + " header is missing")
	ErrMalformedTimestamp = errors.New("the " + TimestampHeader + " header is not a time in seconds since 1970")
	ErrStale              = errors.New("the request was signed too long ago")
	ErrFuture             = errors.New("the request was signed too far in the future")
	ErrBadSignature       = errors.New("the signature does not match the body and timestamp (wrong verification key, or the body or timestamp was changed)")
)

// ErrNoKey and ErrNoWindow are configuration errors of the receiver, not
// of the request: answer 500.
var (
	ErrNoKey    = errors.New("no SendGrid verification key configured")
	ErrNoWindow = errors.New("the freshness window of SendGrid signatures must be positive")
)

// VerifyError is a request Verify refused: answer 401 with Error().
type VerifyError struct {
	// Reason is one of ErrNoSignature ... ErrBadSignature.
	Reason error
	// Detail says more, or is empty.
	Detail string
}

func (e *VerifyError) Error() string {
	if e.Detail == "" {
		return "SendGrid signature: " + e.Reason.Error()
	}
	return "SendGrid signature: " + e.Reason.Error() + ": " + e.Detail
}

func (e *VerifyError) Unwrap() error { return e.Reason }

func refuse(reason error, format string, args ...any) error {
	return &VerifyError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Verify checks that body was signed by the holder of key's private half
// at timestamp, and that timestamp is within window of now, before or
// after. signatureB64 and timestamp are the two headers' values, exactly
// as received, and body is the raw request body, byte for byte (SendGrid's
// body ends in "\r\n"; it is signed with it).
//
// The window bounds how long a captured request can be replayed. Every
// action this package maps to is idempotent, so a replay changes nothing,
// while SendGrid retries a refused batch for 24 hours and does not say
// whether a retry is signed anew: a window shorter than an outage of the
// receiver may refuse retries signed at the first attempt. Choose it
// knowing both; the clock skew between SendGrid and us counts against it.
//
// The checks that need no cryptography run first, then ecdsa.VerifyASN1.
// Unlike an HMAC check, nothing secret is compared: verification handles
// only public values (the key, the signature, the body), so its timing
// tells a forger nothing.
func Verify(key *ecdsa.PublicKey, signatureB64, timestamp string, body []byte, now time.Time, window time.Duration) error {
	if key == nil {
		return ErrNoKey
	}
	if window <= 0 {
		return ErrNoWindow
	}
	if signatureB64 == "" {
		return &VerifyError{Reason: ErrNoSignature}
	}
	if len(signatureB64) > maxSignature {
		return refuse(ErrMalformedSignature, "%d characters; a P-256 signature has about 96", len(signatureB64))
	}
	der, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil {
		return refuse(ErrMalformedSignature, "not base64: %v", err)
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil {
		return refuse(ErrMalformedSignature, "not an ASN.1 sequence of two integers: %v", err)
	} else if len(rest) > 0 {
		return refuse(ErrMalformedSignature, "%d bytes after the signature", len(rest))
	}
	if timestamp == "" {
		return &VerifyError{Reason: ErrNoTimestamp}
	}
	signedAt, err := parseTimestamp(timestamp)
	if err != nil {
		return refuse(ErrMalformedTimestamp, "%v", err)
	}
	// Times are compared, not durations: a difference of more than 292
	// years does not fit a time.Duration.
	if signedAt.Before(now.Add(-window)) {
		return refuse(ErrStale, "signed at %s, %s before now (%s); at most %s is accepted",
			signedAt.UTC().Format(time.RFC3339), now.Sub(signedAt).Round(time.Second), now.UTC().Format(time.RFC3339), window)
	}
	if signedAt.After(now.Add(window)) {
		return refuse(ErrFuture, "signed at %s, %s after now (%s); at most %s is accepted (is a clock wrong?)",
			signedAt.UTC().Format(time.RFC3339), signedAt.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339), window)
	}
	h := sha256.New()
	h.Write([]byte(timestamp))
	h.Write(body)
	if !ecdsa.VerifyASN1(key, h.Sum(nil), der) {
		return &VerifyError{Reason: ErrBadSignature}
	}
	return nil
}

// parseTimestamp reads decimal seconds since 1970: digits only, as
// SendGrid sends them.
func parseTimestamp(s string) (time.Time, error) {
	if len(s) > maxTimestamp {
		return time.Time{}, fmt.Errorf("%d characters; seconds since 1970 have 10 digits", len(s))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, fmt.Errorf("%q has a character other than a digit", s)
		}
	}
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %v", s, err)
	}
	return time.Unix(secs, 0), nil
}
