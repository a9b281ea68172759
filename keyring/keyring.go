// Package keyring reads the secrets that rotate: "id=secret,id2=secret2",
// the first one in use, every one still accepted. The link secret
// (LINK_SECRET) and the payload keys (PAYLOAD_KEYS) are both written so, and
// an operator rotates them alike: put the new one first, keep the old one
// until nothing needs it.
package keyring

import (
	"fmt"
	"strings"
)

// MinSecret is the shortest secret taken, in bytes: 32 bytes of
// "openssl rand -hex 32" are 128 bits of entropy at the very least.
const MinSecret = 32

// Key is one secret with its ID.
type Key struct {
	ID     string
	Secret []byte
}

// Setting names a keyring's setting in messages: its variable and what its
// keys are for.
type Setting struct {
	// Env is the environment variable, "LINK_SECRET".
	Env string
	// What the keys are, "link" ("link key ID ...").
	What string
}

// Parse reads "id=secret,id2=secret2" (the first is in use, all are
// accepted) or a single secret, which gets the ID "1". Every secret must be
// at least MinSecret bytes.
func (s Setting) Parse(v string) ([]Key, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, fmt.Errorf("no %s secret: set %s to one secret, or to id=secret,id2=secret2 to rotate", s.What, s.Env)
	}
	var keys []Key
	seen := map[string]bool{}
	for part := range strings.SplitSeq(v, ",") {
		id, secret, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			id, secret = "1", strings.TrimSpace(part)
		}
		switch {
		case !ValidID(id):
			return nil, fmt.Errorf("%s key ID %q: use 1 to 16 letters, digits, - or _", s.What, id)
		case seen[id]:
			return nil, fmt.Errorf("%s key ID %q is given twice", s.What, id)
		case len(secret) < MinSecret:
			return nil, fmt.Errorf("%s secret %q is %d bytes; at least %d are needed (openssl rand -hex 32 makes one)", s.What, id, len(secret), MinSecret)
		}
		seen[id] = true
		keys = append(keys, Key{ID: id, Secret: []byte(secret)})
	}
	return keys, nil
}

// ValidID says whether id may name a key: 1 to 16 letters, digits, - or _,
// so it fits in a token or a payload's metadata unescaped.
func ValidID(id string) bool {
	if id == "" || len(id) > 16 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
