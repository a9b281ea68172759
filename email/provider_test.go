package email_test

import (
	"bytes"
	"encoding/json"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/sendgrid"
)

func TestProviderHeaders(t *testing.T) {
	t.Parallel()
	h, err := email.ProviderHeaders("", "k", "l")
	require.NoError(t, err)
	require.Empty(t, h, "no provider, no headers")
	_, err = email.ProviderHeaders("mailgun", "k", "l")
	require.ErrorContains(t, err, "sendgrid")

	h, err = email.ProviderHeaders(email.SendGrid, "lead-1/run/send-a/1", "127998bf-b371-5e6b-a739-b43ac089fd91")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"X-SMTPAPI": `{"unique_args":{"nurture_key":"lead-1/run/send-a/1","nurture_lead":"127998bf-b371-5e6b-a739-b43ac089fd91"}}`}, h)

	// Whatever a key holds, the header is one line of ASCII JSON that
	// decodes back to it.
	odd := "step \"ä\"\r\nBcc: x@evil.test\t<&>\U0001F600\xff"
	h, err = email.ProviderHeaders(email.SendGrid, odd, "lead")
	require.NoError(t, err)
	v := h[sendgrid.SMTPAPIHeader]
	for _, c := range []byte(v) {
		require.True(t, c >= 0x20 && c < 0x7f, "byte %q in %s", c, v)
	}
	var got struct {
		UniqueArgs map[string]string `json:"unique_args"`
	}
	require.NoError(t, json.Unmarshal([]byte(v), &got))
	require.Equal(t, strings.ToValidUTF8(odd, "\uFFFD"), got.UniqueArgs[sendgrid.ArgSendKey])
}

// TestSMTPAPIHeaderOnTheWire renders a message with a key long enough to
// be folded and reads the header back as SendGrid would.
func TestSMTPAPIHeaderOnTheWire(t *testing.T) {
	t.Parallel()
	s, err := email.New(email.Config{Host: "127.0.0.1", Port: 1, TLS: "none", From: "m@acme.test"})
	require.NoError(t, err)
	key := "lead-127998bf-b371-5e6b-a739-b43ac089fd91/0197a5c2-1111-7aaa-8bbb-123456789abc/send-benchmark-report/12"
	h, err := email.ProviderHeaders(email.SendGrid, key, "127998bf-b371-5e6b-a739-b43ac089fd91")
	require.NoError(t, err)
	raw, err := s.Render(email.Message{To: "ada@analytical.test", Subject: "s", Text: "t", Headers: h})
	require.NoError(t, err)
	require.Equal(t, 1, bytes.Count(raw, []byte("X-SMTPAPI:")))
	for _, line := range bytes.Split(raw, []byte("\r\n")) {
		require.LessOrEqual(t, len(line), 998, "RFC 5322 line limit")
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	var got struct {
		UniqueArgs map[string]string `json:"unique_args"`
	}
	require.NoError(t, json.Unmarshal([]byte(m.Header.Get("X-SMTPAPI")), &got), m.Header.Get("X-SMTPAPI"))
	require.Equal(t, key, got.UniqueArgs["nurture_key"])
}
