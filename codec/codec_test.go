package codec_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
	"github.com/nurture-dev/nurture/workflows"
)

const (
	secretA = "a-secret-of-at-least-thirty-two-bytes-aaaa"
	secretB = "b-secret-of-at-least-thirty-two-bytes-bbbb"
)

type bundle struct {
	db  store.DB
	dc  converter.DataConverter
	raw *codec.Codec
}

func setup(t *testing.T, keys ...keyring.Key) bundle {
	t.Helper()
	db, _ := storetest.Schema(t)
	if len(keys) == 0 {
		keys = []keyring.Key{{ID: "a", Secret: []byte(secretA)}}
	}
	c, err := codec.New(db, keys)
	require.NoError(t, err)
	return bundle{db: db, dc: codec.DataConverter(c), raw: c}
}

func ada() lead.Profile {
	return lead.Profile{ID: lead.IDForEmail("ada@analytical.test"), Email: "ada@analytical.test", FirstName: "Ada", Company: "Analytical Engines"}
}

func TestLeadDataIsSealedWithTheLeadsOwnKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := ada()
	for _, v := range []any{
		p, &p,
		workflows.Input{Lead: p, JourneyID: "j"},
		workflows.Input{JourneyID: "j", Carried: &workflows.State{Lead: p}},
		lead.Event{ID: "e1", LeadID: p.ID, Type: lead.ContactForm, Properties: map[string]string{"phone": "+44 20 7946 0000"}},
		workflows.Status{LeadID: p.ID, Email: p.Email},
	} {
		payload, err := b.dc.ToPayload(v)
		require.NoError(t, err)
		require.Equal(t, codec.EncodingEncrypted, string(payload.Metadata[codec.MetadataEncoding]))
		require.Equal(t, "lead:"+p.ID, string(payload.Metadata[codec.MetadataKeyID]), "%T", v)
		require.NotContains(t, string(payload.Data), "analytical")
		require.NotContains(t, string(payload.Data), "7946")
		require.NotContains(t, payload.Metadata, codec.MetadataOwner, "the owner travels sealed")
	}
	// The round trip gives back the value.
	payload, err := b.dc.ToPayload(workflows.Input{Lead: p, JourneyID: "j"})
	require.NoError(t, err)
	var back workflows.Input
	require.NoError(t, b.dc.FromPayload(payload, &back))
	require.Equal(t, p, back.Lead)

	// Anything written about the lead is the lead's (a client call that
	// names it; its workflow and activities likewise, by their IDs).
	about := b.dc.(workflow.ContextAware).WithContext(lead.WithID(context.Background(), p.ID))
	payload, err = about.ToPayload(workflows.Removal{Reason: "asked by phone"})
	require.NoError(t, err)
	require.Equal(t, "lead:"+p.ID, string(payload.Metadata[codec.MetadataKeyID]))
	var r workflows.Removal
	require.NoError(t, b.dc.FromPayload(payload, &r))
	require.Equal(t, "asked by phone", r.Reason)

	// The rest is sealed with the payload key.
	payload, err = b.dc.ToPayload(workflows.Removal{Reason: "asked by phone"})
	require.NoError(t, err)
	require.Equal(t, "a", string(payload.Metadata[codec.MetadataKeyID]))
	require.NotContains(t, string(payload.Data), "phone")
	require.NoError(t, b.dc.FromPayload(payload, &r))
	require.Equal(t, "asked by phone", r.Reason)
}

func TestErasedLeadsPayloadsCannotBeOpened(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	p := ada()
	other := lead.Profile{ID: lead.IDForEmail("grace@cobol.test"), Email: "grace@cobol.test"}
	require.NoError(t, store.UpsertLead(ctx, b.db, p))
	sealed, err := b.dc.ToPayload(p)
	require.NoError(t, err)
	kept, err := b.dc.ToPayload(other)
	require.NoError(t, err)

	_, err = store.EraseLead(ctx, b.db, p.ID, "exited", "erased")
	require.NoError(t, err)
	// A codec that never saw the key (another process, or this one a
	// minute on) cannot open the payload, nor seal anything new for it.
	c, err := codec.New(b.db, []keyring.Key{{ID: "a", Secret: []byte(secretA)}})
	require.NoError(t, err)
	dc := codec.DataConverter(c)
	var back lead.Profile
	err = dc.FromPayload(sealed, &back)
	require.ErrorIs(t, err, codec.ErrErased)
	require.ErrorContains(t, err, p.ID)
	_, err = dc.ToPayload(p)
	require.ErrorIs(t, err, codec.ErrErased)
	// Other leads are untouched.
	require.NoError(t, dc.FromPayload(kept, &back))
	require.Equal(t, other, back)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	p := ada()
	oldLead, err := b.dc.ToPayload(p)
	require.NoError(t, err)
	oldPlain, err := b.dc.ToPayload("journey step s1")
	require.NoError(t, err)

	// Key b goes in front: it seals; a still opens.
	both := []keyring.Key{{ID: "b", Secret: []byte(secretB)}, {ID: "a", Secret: []byte(secretA)}}
	c, err := codec.New(b.db, both)
	require.NoError(t, err)
	dc := codec.DataConverter(c)
	fresh, err := dc.ToPayload("journey step s2")
	require.NoError(t, err)
	require.Equal(t, "b", string(fresh.Metadata[codec.MetadataKeyID]))
	var s string
	require.NoError(t, dc.FromPayload(oldPlain, &s))
	require.Equal(t, "journey step s1", s)

	// Rewrapping moves every lead's data key under b; then a can go for
	// lead data, and old lead payloads still open.
	n, err := c.Rewrap(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	again, err := c.Rewrap(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, again, "nothing left to rewrap")
	onlyB, err := codec.New(b.db, both[:1])
	require.NoError(t, err)
	var back lead.Profile
	require.NoError(t, codec.DataConverter(onlyB).FromPayload(oldLead, &back))
	require.Equal(t, p, back)
	// What a sealed itself does not open without a.
	err = codec.DataConverter(onlyB).FromPayload(oldPlain, &s)
	require.ErrorIs(t, err, codec.ErrUnknownKey)
	require.ErrorContains(t, err, `payload key "a" is not in PAYLOAD_KEYS`)
}

func TestTamperedPayloadsDoNotOpen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := ada()
	other := lead.Profile{ID: lead.IDForEmail("grace@cobol.test"), Email: "grace@cobol.test"}
	sealed, err := b.dc.ToPayload(p)
	require.NoError(t, err)
	_, err = b.dc.ToPayload(other)
	require.NoError(t, err)
	var back lead.Profile

	flipped := clone(sealed)
	flipped.Data[len(flipped.Data)-1] ^= 1
	require.ErrorIs(t, b.dc.FromPayload(flipped, &back), codec.ErrCorrupt)

	// Moved under another lead's key ID: the key ID is bound to it.
	moved := clone(sealed)
	moved.Metadata[codec.MetadataKeyID] = []byte("lead:" + other.ID)
	require.ErrorIs(t, b.dc.FromPayload(moved, &back), codec.ErrCorrupt)

	short := clone(sealed)
	short.Data = short.Data[:5]
	require.ErrorIs(t, b.dc.FromPayload(short, &back), codec.ErrCorrupt)

	unknown := clone(sealed)
	unknown.Metadata[codec.MetadataKeyID] = []byte("lead:" + lead.IDForEmail("nobody@nowhere.test"))
	require.ErrorIs(t, b.dc.FromPayload(unknown, &back), codec.ErrUnknownKey)

	huge := clone(sealed)
	huge.Data = bytes.Repeat([]byte{1}, codec.MaxPayload+1)
	require.ErrorIs(t, b.dc.FromPayload(huge, &back), codec.ErrCorrupt)
}

func TestPlainPayloadsPassThrough(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain, err := converter.GetDefaultDataConverter().ToPayload(ada())
	require.NoError(t, err)
	var back lead.Profile
	require.NoError(t, b.dc.FromPayload(plain, &back), "a history written before the codec still replays")
	require.Equal(t, ada(), back)
}

func TestNewRefusesNoKey(t *testing.T) {
	t.Parallel()
	_, err := codec.New(nil, nil)
	require.ErrorContains(t, err, "PAYLOAD_KEYS")
}

func clone(p *commonpb.Payload) *commonpb.Payload {
	c := &commonpb.Payload{Metadata: map[string][]byte{}, Data: bytes.Clone(p.Data)}
	for k, v := range p.Metadata {
		c.Metadata[k] = bytes.Clone(v)
	}
	return c
}
