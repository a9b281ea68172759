// Package codec encrypts what Temporal stores of nurture's journeys, so a
// lead's personal data is not in plain text in any workflow history, and is
// gone from every copy of it once the lead is erased.
//
// Every payload is sealed with AES-256-GCM. A lead's payloads are sealed
// with the lead's own data key: a random 256-bit key made on first use,
// kept in PostgreSQL (lead_keys) wrapped by the payload key in use. Whose a
// payload is comes from where it is written (the lead's journey workflow,
// one of its activities, a client call naming the lead) or from the value
// (one holding its profile or events: Owned); see DataConverter. The rest
// (failure messages, whatever is about no lead) is sealed with the payload
// key itself. The key's ID travels in the payload's metadata
// ("encryption-key-id": "lead:<lead ID>" or the payload key's ID), bound
// to the ciphertext as associated data, so each payload says which key
// opens it and a payload moved under another ID does not open.
//
// Payload keys come from PAYLOAD_KEYS ("id=secret,id2=secret2", package
// keyring): the first seals, all open. A rotation adds the new key, then
// puts it in front (two rollouts: see the README), and `starter keys
// rewrap` rewraps every lead's data key under it, so the old one can go
// once no history sealed with it is kept. Each 256-bit AES key is derived
// from its secret by HKDF-SHA256.
//
// Erasing a lead (store.EraseLead) deletes its wrapped data key: whatever
// Temporal or a backup still keeps of its payloads cannot be opened by
// anyone, this codec included (a process that cached the key forgets it
// within a minute), and no new data key is ever made for it.
//
// Payloads written before the codec (no "binary/encrypted" encoding) are
// passed through as they are, so existing histories keep replaying.
package codec

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/store"
)

// Metadata names and values of a sealed payload.
const (
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted is the encoding of a sealed payload: its data is
	// the nonce and the AES-GCM ciphertext of the whole original payload.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key that opens the payload.
	MetadataKeyID = "encryption-key-id"
	// MetadataOwner, on a payload before it is sealed, is the ID of the
	// lead whose data it is (see Owned).
	MetadataOwner = "nurture-lead"
	// leadKeyPrefix starts the key ID of a lead's data key.
	leadKeyPrefix = "lead:"
)

// MaxPayload bounds a sealed payload the codec opens: Temporal refuses
// payloads over 2 MB by default, so anything larger is not ours.
const MaxPayload = 4 << 20

// Errors a payload can fail to open with.
var (
	// ErrErased: the lead's data key was erased; nobody can read it.
	ErrErased = errors.New("the lead was erased and its data key destroyed; nobody can read this payload")
	// ErrUnknownKey: no key of that ID (a payload key missing from
	// PAYLOAD_KEYS, or a lead with no data key in this database).
	ErrUnknownKey = errors.New("no such key")
	// ErrCorrupt: the payload is not one this codec sealed, or was
	// altered.
	ErrCorrupt = errors.New("the payload is corrupt or was not sealed by this codec")
)

// Codec seals and opens payloads; it is a converter.PayloadCodec.
type Codec struct {
	db store.DB
	// keys are the payload keys by ID; current seals.
	keys    map[string]cipher.AEAD
	current string
	// timeout bounds each lookup of a lead's data key.
	timeout time.Duration

	// now is the clock of the cache of data keys; uncached skips it.
	now      func() time.Time
	uncached bool

	mu    sync.Mutex
	leads map[string]cachedKey
}

type cachedKey struct {
	aead  cipher.AEAD
	until time.Time
}

// The cache of opened data keys: bounded (~200 bytes an entry), and short
// lived, so a lead erased by another process (starter erase) is unreadable
// here too within a minute, with no message between them.
const (
	maxCachedLeads = 100_000
	cacheLife      = time.Minute
)

// New makes a codec that seals with the first of keys and opens with any,
// and keeps lead data keys in db.
func New(db store.DB, keys []keyring.Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("no payload key: set PAYLOAD_KEYS to id=secret (openssl rand -hex 32 makes a secret)")
	}
	c := &Codec{db: db, keys: map[string]cipher.AEAD{}, current: keys[0].ID, timeout: 10 * time.Second,
		now: time.Now, leads: map[string]cachedKey{}}
	for _, k := range keys {
		raw, err := hkdf.Key(sha256.New, k.Secret, nil, "nurture payload key "+k.ID, 32)
		if err != nil {
			return nil, fmt.Errorf("payload key %s: %w", k.ID, err)
		}
		aead, err := newAEAD(raw)
		if err != nil {
			return nil, fmt.Errorf("payload key %s: %w", k.ID, err)
		}
		c.keys[k.ID] = aead
	}
	return c, nil
}

// Uncached is c reading every lead's data key from the database each
// time: what serves people (the codec endpoint) must refuse an erased
// lead at once, not when a cached key expires.
func (c *Codec) Uncached() *Codec {
	return &Codec{db: c.db, keys: c.keys, current: c.current, timeout: c.timeout, now: c.now, uncached: true, leads: map[string]cachedKey{}}
}

// Current is the ID of the payload key that seals.
func (c *Codec) Current() string { return c.current }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Encode seals each payload: with its lead's data key when it names one
// (MetadataOwner), else with the current payload key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		keyID := c.current
		aead := c.keys[c.current]
		if owner := string(p.GetMetadata()[MetadataOwner]); owner != "" {
			var err error
			// The codec endpoint (Uncached) makes no keys: a request
			// naming any lead ID would otherwise add rows.
			if aead, err = c.leadKey(owner, !c.uncached); err != nil {
				return nil, err
			}
			keyID = leadKeyPrefix + owner
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("seal payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(keyID)},
			Data:     seal(aead, plain, keyID),
		}
	}
	return out, nil
}

// Decode opens each sealed payload and passes any other through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		opened, err := c.open(p)
		if err != nil {
			return nil, err
		}
		out[i] = opened
	}
	return out, nil
}

func (c *Codec) open(p *commonpb.Payload) (*commonpb.Payload, error) {
	keyID := string(p.GetMetadata()[MetadataKeyID])
	if len(p.GetData()) > MaxPayload {
		return nil, fmt.Errorf("open payload sealed by %q: %d bytes, over %d: %w", keyID, len(p.GetData()), MaxPayload, ErrCorrupt)
	}
	var aead cipher.AEAD
	if owner, ok := strings.CutPrefix(keyID, leadKeyPrefix); ok {
		var err error
		if aead, err = c.leadKey(owner, false); err != nil {
			return nil, err
		}
	} else if aead = c.keys[keyID]; aead == nil {
		return nil, fmt.Errorf("open payload: payload key %q is not in PAYLOAD_KEYS: %w", keyID, ErrUnknownKey)
	}
	plain, err := unseal(aead, p.GetData(), keyID)
	if err != nil {
		return nil, fmt.Errorf("open payload sealed by %q: %w", keyID, ErrCorrupt)
	}
	var inner commonpb.Payload
	if err := proto.Unmarshal(plain, &inner); err != nil {
		return nil, fmt.Errorf("open payload sealed by %q: %w", keyID, ErrCorrupt)
	}
	// The owner mark served the sealing; the decoded payload is as the
	// converter made it.
	delete(inner.Metadata, MetadataOwner)
	return &inner, nil
}

// seal is nonce || AES-GCM(plain), with the key ID as associated data.
func seal(aead cipher.AEAD, plain []byte, keyID string) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return aead.Seal(nonce, nonce, plain, []byte(keyID))
}

func unseal(aead cipher.AEAD, data []byte, keyID string) ([]byte, error) {
	if len(data) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	n := aead.NonceSize()
	return aead.Open(nil, data[:n], data[n:], []byte(keyID))
}

// leadKey is a lead's data key, opened; create makes one if it has none.
func (c *Codec) leadKey(leadID string, create bool) (cipher.AEAD, error) {
	c.mu.Lock()
	cached, ok := c.leads[leadID]
	c.mu.Unlock()
	if ok && !c.uncached && c.now().Before(cached.until) {
		return cached.aead, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	k, err := store.GetLeadKey(ctx, c.db, leadID)
	if errors.Is(err, store.ErrNotFound) && create {
		k, err = c.newLeadKey(ctx, leadID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("open payload of lead %s: it has no data key in this database: %w", leadID, ErrUnknownKey)
	}
	if err != nil {
		return nil, err
	}
	if k.ErasedAt != nil {
		return nil, fmt.Errorf("lead %s (erased %s): %w", leadID, k.ErasedAt.UTC().Format(time.RFC3339), ErrErased)
	}
	raw, err := c.unwrap(leadID, k)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	if c.uncached {
		return aead, nil
	}
	c.mu.Lock()
	if len(c.leads) >= maxCachedLeads {
		for id := range c.leads { // any one: the map's order is random
			delete(c.leads, id)
			break
		}
	}
	c.leads[leadID] = cachedKey{aead: aead, until: c.now().Add(cacheLife)}
	c.mu.Unlock()
	return aead, nil
}

func (c *Codec) newLeadKey(ctx context.Context, leadID string) (store.LeadKey, error) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return store.AddLeadKey(ctx, c.db, leadID, c.wrap(leadID, raw))
}

// wrap seals a lead's data key with the current payload key, bound to the
// lead, so a wrapped key copied to another lead's row does not open.
func (c *Codec) wrap(leadID string, raw []byte) store.LeadKey {
	return store.LeadKey{KeyID: c.current, Wrapped: seal(c.keys[c.current], raw, leadKeyPrefix+leadID)}
}

func (c *Codec) unwrap(leadID string, k store.LeadKey) ([]byte, error) {
	wrapper := c.keys[k.KeyID]
	if wrapper == nil {
		return nil, fmt.Errorf("the data key of lead %s is wrapped by payload key %q, which is not in PAYLOAD_KEYS: %w", leadID, k.KeyID, ErrUnknownKey)
	}
	raw, err := unseal(wrapper, k.Wrapped, leadKeyPrefix+leadID)
	if err != nil {
		return nil, fmt.Errorf("the data key of lead %s does not open with payload key %q: %w", leadID, k.KeyID, ErrCorrupt)
	}
	return raw, nil
}

// Rewrap wraps every lead's data key with the current payload key, batch
// by batch, and says how many it rewrapped: after it, payload keys other
// than the current one open only payloads they sealed themselves.
func (c *Codec) Rewrap(ctx context.Context, progress func(done int)) (int, error) {
	// Passes until one finds nothing: a process still on the old setting
	// may add keys wrapped by the old key behind a pass.
	total := 0
	for {
		n, err := c.rewrapPass(ctx, total, progress)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// rewrapPass rewraps, in lead ID order, the data keys not wrapped by the
// current key.
func (c *Codec) rewrapPass(ctx context.Context, before int, progress func(done int)) (int, error) {
	done, after := 0, ""
	for {
		keys, order, err := store.LeadKeysNotWrappedBy(ctx, c.db, c.current, after, 500)
		if err != nil {
			return done, err
		}
		if len(order) == 0 {
			return done, nil
		}
		for _, id := range order {
			k := keys[id]
			raw, err := c.unwrap(id, k)
			if err != nil {
				return done, err
			}
			ok, err := store.RewrapLeadKey(ctx, c.db, id, k.KeyID, c.wrap(id, raw))
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
			after = id
		}
		if progress != nil {
			progress(before + done)
		}
	}
}
