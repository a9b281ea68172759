package keyring_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/keyring"
)

var payload = keyring.Setting{Env: "PAYLOAD_KEYS", What: "payload"}

func TestParse(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", keyring.MinSecret)
	keys, err := payload.Parse(" new=" + long + "2 , old=" + long + "1 ")
	require.NoError(t, err)
	require.Equal(t, []keyring.Key{{ID: "new", Secret: []byte(long + "2")}, {ID: "old", Secret: []byte(long + "1")}}, keys, "in order: the first is in use")
	for in, want := range map[string]string{
		"":                                   "no payload secret: set PAYLOAD_KEYS",
		"k=short":                            `payload secret "k" is 5 bytes; at least 32`,
		"a=" + long + ",a=" + long:           `payload key ID "a" is given twice`,
		strings.Repeat("i", 17) + "=" + long: "use 1 to 16 letters",
		"=" + long:                           `payload key ID ""`,
	} {
		_, err := payload.Parse(in)
		require.ErrorContains(t, err, want, in)
	}
}

// FuzzParse: any setting parses to keys that each hold a valid ID and a
// long enough secret, or to an error; never a panic.
func FuzzParse(f *testing.F) {
	f.Add("k1=" + strings.Repeat("x", 32))
	f.Add("a=b,c=d")
	f.Add(",,=")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := payload.Parse(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if !keyring.ValidID(k.ID) || len(k.Secret) < keyring.MinSecret || seen[k.ID] {
				t.Fatalf("%q gave key %q (%d bytes)", s, k.ID, len(k.Secret))
			}
			seen[k.ID] = true
		}
	})
}
