package sendgrid_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/sendgrid"
)

// SendGrid's published test vector: the key, signature, timestamp and
// payload of TestVerifySignature in github.com/sendgrid/sendgrid-go,
// helpers/eventwebhook/eventwebhook_test.go, as of commit
// 4d0ad813702fe8024b9111b6ab242f7126e77a4f (the vector came in with
// 0f63642c154b3ea07ae74297009a17c55ee4eafc, "docs: update the
// eventwebhook sample data", and is unchanged at v3.16.1). The payload
// there is built with json.Encoder from a map, so its keys are sorted,
// and ends in "\r\n", which is part of what was signed; it is written out
// here byte for byte.
const (
	vectorKey       = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
	vectorSignature = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	vectorTimestamp = "1600112502"
	vectorBody      = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
)

// vectorNow is shortly after the vector was signed (2020-09-14): the
// vector is old, and tests never read the wall clock.
var vectorNow = time.Unix(1600112502, 0).Add(20 * time.Second)

const window = 5 * time.Minute

func requireRefused(t *testing.T, err, reason error) {
	t.Helper()
	require.ErrorIs(t, err, reason)
	var ve *sendgrid.VerifyError
	require.ErrorAs(t, err, &ve, "a refusal the handler answers with 401")
	require.Contains(t, err.Error(), "SendGrid signature: ")
}

func TestPublishedVectorVerifies(t *testing.T) {
	t.Parallel()
	key, err := sendgrid.ParsePublicKey(vectorKey)
	require.NoError(t, err)
	require.NoError(t, sendgrid.Verify(key, vectorSignature, vectorTimestamp, []byte(vectorBody), vectorNow, window))

	// What the vector says: SendGrid dropped a message to an address on
	// its bounce list.
	events, err := sendgrid.Parse([]byte(vectorBody), sendgrid.Limits{})
	require.NoError(t, err)
	require.Len(t, events, 1)
	require.NoError(t, events[0].Err)
	require.Equal(t, sendgrid.Dropped, events[0].Kind)
	require.Equal(t, time.Unix(1600112492, 0).UTC(), events[0].Time)
	act, ok := events[0].Map()
	require.True(t, ok)
	require.Equal(t, "hello@world.com", act.Email)
	require.EqualValues(t, "hard_bounce", act.Suppress)
	require.Empty(t, act.Event.Type, "a drop suppresses; the bounce itself was recorded when it happened")
}

func TestTamperedVectorFails(t *testing.T) {
	t.Parallel()
	key, err := sendgrid.ParsePublicKey(vectorKey)
	require.NoError(t, err)
	body := []byte(vectorBody)
	verify := func(sig, ts string, body []byte) error {
		return sendgrid.Verify(key, sig, ts, body, vectorNow, window)
	}

	for what, b := range map[string][]byte{
		"one letter changed":         []byte(strings.Replace(vectorBody, "Bounced Address", "bounced Address", 1)),
		"the final CRLF dropped":     []byte(strings.TrimSuffix(vectorBody, "\r\n")),
		"another event added":        []byte(strings.Replace(vectorBody, "}]", `},{"event":"open"}]`, 1)),
		"the body left out entirely": nil,
	} {
		err := verify(vectorSignature, vectorTimestamp, b)
		require.ErrorIs(t, err, sendgrid.ErrBadSignature, what)
		requireRefused(t, err, sendgrid.ErrBadSignature)
	}
	// Another timestamp, still within the window, is signed by nobody.
	requireRefused(t, verify(vectorSignature, "1600112503", body), sendgrid.ErrBadSignature)
	// A signature changed in one bit of S.
	der, err := base64.StdEncoding.DecodeString(vectorSignature)
	require.NoError(t, err)
	der[len(der)-1] ^= 1
	requireRefused(t, verify(base64.StdEncoding.EncodeToString(der), vectorTimestamp, body), sendgrid.ErrBadSignature)

	// Garbled and missing headers.
	requireRefused(t, verify("", vectorTimestamp, body), sendgrid.ErrNoSignature)
	requireRefused(t, verify(vectorSignature+"causing failure", vectorTimestamp, body), sendgrid.ErrMalformedSignature)
	requireRefused(t, verify("not base64!", vectorTimestamp, body), sendgrid.ErrMalformedSignature)
	requireRefused(t, verify(base64.StdEncoding.EncodeToString([]byte("hello")), vectorTimestamp, body), sendgrid.ErrMalformedSignature)
	requireRefused(t, verify(base64.StdEncoding.EncodeToString(append(der, 0)), vectorTimestamp, body), sendgrid.ErrMalformedSignature)
	requireRefused(t, verify(strings.Repeat("A", 400), vectorTimestamp, body), sendgrid.ErrMalformedSignature)
	requireRefused(t, verify(vectorSignature, "", body), sendgrid.ErrNoTimestamp)
	for _, ts := range []string{"invalid timestamp", " 1600112502", "+1600112502", "-1", "1.6e9", "16001125020000000000"} {
		requireRefused(t, verify(vectorSignature, ts, body), sendgrid.ErrMalformedTimestamp)
	}

	// A timestamp 31,000 years ahead is in the future too, though the
	// difference does not fit a time.Duration.
	requireRefused(t, verify(vectorSignature, "999999999999", body), sendgrid.ErrFuture)

	// The vector read a day later, or a day before it was signed.
	requireRefused(t, sendgrid.Verify(key, vectorSignature, vectorTimestamp, body, vectorNow.Add(24*time.Hour), window), sendgrid.ErrStale)
	requireRefused(t, sendgrid.Verify(key, vectorSignature, vectorTimestamp, body, vectorNow.Add(-24*time.Hour), window), sendgrid.ErrFuture)

	// Configuration errors are not refusals of the request.
	err = sendgrid.Verify(nil, vectorSignature, vectorTimestamp, body, vectorNow, window)
	require.ErrorIs(t, err, sendgrid.ErrNoKey)
	var ve *sendgrid.VerifyError
	require.False(t, errors.As(err, &ve))
	require.ErrorIs(t, sendgrid.Verify(key, vectorSignature, vectorTimestamp, body, vectorNow, 0), sendgrid.ErrNoWindow)
}

// t0 is the pinned "now" of the tests that sign their own bodies.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type signer struct {
	priv *ecdsa.PrivateKey
	// B64 is the public key as SendGrid shows it.
	B64 string
}

func newSigner(t *testing.T) signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	return signer{priv: priv, B64: base64.StdEncoding.EncodeToString(der)}
}

// sign does what SendGrid does: ECDSA over SHA-256(timestamp + body).
func (s signer) sign(t *testing.T, at time.Time, body []byte) (sig, ts string) {
	t.Helper()
	ts = strconv.FormatInt(at.Unix(), 10)
	h := sha256.Sum256(append([]byte(ts), body...))
	der, err := ecdsa.SignASN1(rand.Reader, s.priv, h[:])
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(der), ts
}

func TestVerifyWindowBothWays(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	key, err := sendgrid.ParsePublicKey(s.B64)
	require.NoError(t, err)
	body := []byte(`[{"email":"ada@analytical.test","event":"open","timestamp":1795428000,"sg_event_id":"b3Blbi0x"}]`)
	for _, tc := range []struct {
		signedAt time.Time
		want     error
	}{
		{t0, nil},
		{t0.Add(-window), nil},
		{t0.Add(-window - time.Second), sendgrid.ErrStale},
		{t0.Add(-30 * 24 * time.Hour), sendgrid.ErrStale},
		{t0.Add(window), nil},
		{t0.Add(window + time.Second), sendgrid.ErrFuture},
		{time.Unix(0, 0), sendgrid.ErrStale},
	} {
		sig, ts := s.sign(t, tc.signedAt, body)
		err := sendgrid.Verify(key, sig, ts, body, t0, window)
		if tc.want == nil {
			require.NoError(t, err, "signed at %s", tc.signedAt)
		} else {
			requireRefused(t, err, tc.want)
		}
	}

	// The window is the caller's: a day.
	sig, ts := s.sign(t, t0.Add(-23*time.Hour), body)
	require.NoError(t, sendgrid.Verify(key, sig, ts, body, t0, 24*time.Hour))

	// The message says when, and what is accepted.
	sig, ts = s.sign(t, t0.Add(-time.Hour), body)
	err = sendgrid.Verify(key, sig, ts, body, t0, window)
	require.EqualError(t, err, "SendGrid signature: the request was signed too long ago: signed at 2026-11-23T09:00:00Z, 1h0m0s before now (2026-11-23T10:00:00Z); at most 5m0s is accepted")

	// Another key's signature of the same body and time.
	other := newSigner(t)
	sig, ts = other.sign(t, t0, body)
	requireRefused(t, sendgrid.Verify(key, sig, ts, body, t0, window), sendgrid.ErrBadSignature)
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	s := newSigner(t)
	want, err := sendgrid.ParsePublicKey(s.B64)
	require.NoError(t, err)
	require.True(t, want.Equal(&s.priv.PublicKey))

	// Surrounding space, line breaks and PEM are all the same key.
	der, _ := base64.StdEncoding.DecodeString(s.B64)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	for _, in := range []string{"  " + s.B64 + "\n", s.B64[:40] + "\r\n" + s.B64[40:], pemKey} {
		got, err := sendgrid.ParsePublicKey(in)
		require.NoError(t, err)
		require.True(t, got.Equal(want))
	}

	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	edDER, err := x509.MarshalPKIXPublicKey(edPub)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	p384DER, err := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	require.NoError(t, err)

	for in, msg := range map[string]string{
		"":                                       "it is empty",
		"   ":                                    "it is empty",
		vectorKey + "corrupting the key":         "not base64",
		"MFkwEwYHKoZIzj0CAQ==":                   "not a DER public key",
		base64.StdEncoding.EncodeToString(edDER): "an Ed25519 key; SendGrid signs with ECDSA P-256",
		base64.StdEncoding.EncodeToString(p384DER):                       "an ECDSA key on P-384",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n": "not one PUBLIC KEY block",
	} {
		_, err := sendgrid.ParsePublicKey(in)
		require.ErrorIs(t, err, sendgrid.ErrInvalidKey, "%q", in)
		require.ErrorContains(t, err, msg)
	}
}
