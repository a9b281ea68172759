package links_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/links"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	s := links.Signer{Secret: []byte("s3cret"), BaseURL: "https://hooks.acme.test/"}
	tok := s.Token("unsubscribe", "lead-1", "ada@acme.test")
	id, addr, err := s.Verify("unsubscribe", tok)
	require.NoError(t, err)
	require.Equal(t, "lead-1", id)
	require.Equal(t, "ada@acme.test", addr)
	require.Equal(t, "https://hooks.acme.test/unsubscribe/"+tok, s.UnsubscribeURL("lead-1", "ada@acme.test"))

	other := links.Signer{Secret: []byte("other")}
	forged := other.Token("unsubscribe", "lead-1", "grace@acme.test")
	payload, sig, _ := strings.Cut(tok, ".")
	forgedPayload, _, _ := strings.Cut(forged, ".")
	for name, bad := range map[string]string{
		"other secret":     forged,
		"swapped payload":  forgedPayload + "." + sig,
		"no signature":     payload,
		"not base64":       "!!!.???",
		"other purpose":    s.Token("click", "lead-1", "ada@acme.test"),
		"empty":            "",
		"truncated digest": tok[:len(tok)-2],
	} {
		_, _, err := s.Verify("unsubscribe", bad)
		require.ErrorIs(t, err, links.ErrBadToken, name)
	}
}
