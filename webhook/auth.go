package webhook

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nurture-dev/nurture/signature"
)

// SignatureHeader carries a machine request's signature:
//
//	Nurture-Signature: t=1764000000,v1=HEX
//
// where HEX is the HMAC-SHA256, under one of the webhook secrets, of the
// timestamp, a dot and the raw body. The shape is Stripe's, which many
// senders already know how to make.
const SignatureHeader = signature.Header

// Window is how far a signature's timestamp may be from now, either way:
// a replay older than this is refused.
const Window = 5 * time.Minute

// MinSecret is the shortest webhook secret accepted.
const MinSecret = 32

// ParseSecrets reads comma-separated webhook secrets, each MinSecret bytes
// at least; several are accepted at once so a secret can be rotated.
func ParseSecrets(s string) ([][]byte, error) {
	var out [][]byte
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if len(part) < MinSecret {
			return nil, fmt.Errorf("a webhook secret is %d bytes; at least %d are needed (openssl rand -hex 32 makes one)", len(part), MinSecret)
		}
		out = append(out, []byte(part))
	}
	if len(out) == 0 {
		return nil, errors.New("no webhook secret: set WEBHOOK_SECRETS (comma-separated, 32+ bytes each)")
	}
	return out, nil
}

// Sign makes the signature header value for a body at a time, with a
// secret: what a sender does, and what tests and the demo do.
func Sign(secret []byte, at time.Time, body []byte) string { return signature.Sign(secret, at, body) }

// errUnsigned is a request whose signature is missing, wrong or stale.
var errUnsigned = errors.New("unsigned")

// verify checks a signature header against the body.
func (s *Server) verify(header string, body []byte) error {
	if header == "" {
		return fmt.Errorf("%w: no %s header; sign the body (see the README)", errUnsigned, SignatureHeader)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: %s must be t=UNIX-SECONDS,v1=HEX-HMAC", errUnsigned, SignatureHeader)
	}
	if d := s.now().Sub(time.Unix(unix, 0)); d > Window || d < -Window {
		return fmt.Errorf("%w: the signature's time is %s from now; at most %s either way", errUnsigned, d.Round(time.Second), Window)
	}
	for _, secret := range s.Secrets {
		want := signature.MAC(secret, ts, body)
		for _, got := range sigs {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: the signature does not match the body", errUnsigned)
}

// signed reads the body within the limit, checks its signature, and only
// then hands it on: an unsigned request leaves no trace but the log line.
func (s *Server) signed(h func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.verify(r.Header.Get(SignatureHeader), body); err != nil {
			writeProblem(w, http.StatusUnauthorized, said(err, errUnsigned))
			return
		}
		h(w, r, body)
	}
}

func readAll(r io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
