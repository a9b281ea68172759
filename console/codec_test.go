package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
)

const uiOrigin = "http://localhost:8233"

// TestCodecEndpointDecodesForAdminsOnly speaks Temporal's codec server
// protocol as Temporal's UI does from a browser: a preflight, then a JSON
// POST with the console's cookie.
func TestCodecEndpointDecodesForAdminsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, options{payloadKeys: []keyring.Key{{ID: "k1", Secret: []byte("payload-key-of-at-least-thirty-two-bytes")}}, codecOrigins: []string{uiOrigin}})
	ada := lead.Profile{ID: lead.IDForEmail("ada@analytical.test"), Email: "ada@analytical.test", FirstName: "Ada"}
	require.NoError(t, store.UpsertLead(b.ctx, b.db, ada))
	sealed, err := codec.DataConverter(b.codec).ToPayloads(ada, "step s1")
	require.NoError(t, err)
	body, err := protojson.Marshal(sealed)
	require.NoError(t, err)
	ask := func(u *user, method, origin, contentType string) response {
		t.Helper()
		req, err := http.NewRequestWithContext(b.ctx, method, b.http.URL+"/console/codec/decode", strings.NewReader(string(body)))
		require.NoError(t, err)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Namespace", "default")
		return u.do(req)
	}

	pre := ask(b.anonymous(), http.MethodOptions, uiOrigin, "")
	require.Equal(t, http.StatusNoContent, pre.status)
	require.Equal(t, uiOrigin, pre.header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", pre.header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, pre.header.Get("Access-Control-Allow-Headers"), "X-Namespace")

	admin := b.as("admin")
	r := ask(admin, http.MethodPost, uiOrigin, "application/json")
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Equal(t, uiOrigin, r.header.Get("Access-Control-Allow-Origin"))
	var got commonpb.Payloads
	require.NoError(t, protojson.Unmarshal([]byte(r.body), &got))
	require.Len(t, got.Payloads, 2)
	require.JSONEq(t, `{"id":"`+ada.ID+`","email":"ada@analytical.test","first_name":"Ada"}`, string(got.Payloads[0].Data))
	require.Equal(t, "json/plain", string(got.Payloads[0].Metadata["encoding"]))
	require.Equal(t, `"step s1"`, string(got.Payloads[1].Data))

	for _, c := range []struct {
		name        string
		u           *user
		origin      string
		contentType string
		status      int
		says        string
	}{
		{"not signed in", b.anonymous(), uiOrigin, "application/json", http.StatusForbidden, "sign in to the console first"},
		{"a marketer", b.as("marketer"), uiOrigin, "application/json", http.StatusForbidden, "may not read leads' Temporal histories decoded"},
		{"sales", b.as("sales"), uiOrigin, "application/json", http.StatusForbidden, "may not read"},
		{"another origin", admin, "https://evil.test", "application/json", http.StatusForbidden, "origin https://evil.test is not in CONSOLE_CODEC_ORIGINS"},
		{"a form", admin, uiOrigin, "text/plain", http.StatusUnsupportedMediaType, "send JSON"},
	} {
		r := ask(c.u, http.MethodPost, c.origin, c.contentType)
		require.Equal(t, c.status, r.status, c.name)
		require.Contains(t, r.body, c.says, c.name)
		require.NotContains(t, r.body, "ada@analytical.test", c.name)
		if c.origin != uiOrigin {
			require.Empty(t, r.header.Get("Access-Control-Allow-Origin"), c.name)
		}
	}

	// Erased: closed at once, though the codec opened it a moment ago.
	_, err = store.EraseLead(b.ctx, b.db, ada.ID, "exited", "erased")
	require.NoError(t, err)
	r = ask(admin, http.MethodPost, uiOrigin, "application/json")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.body, "erased")
	require.NotContains(t, r.body, "ada@analytical.test")
}
