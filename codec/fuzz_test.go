package codec_test

import (
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store/storetest"
)

// FuzzDecode opens whatever a codec request may carry: it returns a
// payload or an error, never panics, and opens nothing it did not seal.
func FuzzDecode(f *testing.F) {
	db, _ := storetest.Schema(f)
	c, err := codec.New(db, []keyring.Key{{ID: "a", Secret: []byte(secretA)}})
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := codec.DataConverter(c).ToPayload(ada())
	if err != nil {
		f.Fatal(err)
	}
	other, err := codec.DataConverter(c).ToPayload("s1")
	if err != nil {
		f.Fatal(err)
	}
	plain, err := converter.GetDefaultDataConverter().ToPayload(ada())
	if err != nil {
		f.Fatal(err)
	}
	plainAda := string(plain.Data)
	for _, p := range []*commonpb.Payload{sealed, other} {
		f.Add(string(p.Metadata[codec.MetadataKeyID]), p.Data)
	}
	f.Add("lead:"+lead.IDForEmail("x@y.test"), []byte{1, 2, 3})
	f.Add("nope", []byte{})
	f.Fuzz(func(t *testing.T, keyID string, data []byte) {
		p := &commonpb.Payload{Metadata: map[string][]byte{codec.MetadataEncoding: []byte(codec.EncodingEncrypted), codec.MetadataKeyID: []byte(keyID)}, Data: data}
		out, err := c.Decode([]*commonpb.Payload{p})
		if err != nil {
			return
		}
		// Only a real sealing opens: the seeds' are the only ones a
		// fuzzer can find without the key.
		if got := string(out[0].Data); got != plainAda && got != `"s1"` {
			t.Fatalf("%q opened to a payload nobody sealed: %q", keyID, got)
		}
	})
}
