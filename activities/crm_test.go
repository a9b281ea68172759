package activities_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/signature"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/webhook"
)

// A real HTTP server stands in for the CRM: down for two posts, then up.
// Every post is signed, carries the hand-off's idempotency key, and says
// who the lead is, why it is ready and who owns it; every attempt is
// recorded.
func TestPostToCRMThroughAnOutage(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	secret := []byte("crm-secret-0123456789abcdef0123456789")
	var mu sync.Mutex
	var bodies [][]byte
	var headers []http.Header
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies, headers = append(bodies, body), append(headers, r.Header.Clone())
		if len(bodies) <= 2 {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(crm.Close)
	a.CRM = activities.CRM{URL: crm.URL + "/hooks/nurture", Secret: secret}

	_, _, err := store.StoreEvent(ctx, a.DB, lead.Event{ID: "e1", LeadID: b.lead.ID, Type: lead.DemoRequest, OccurredAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	req := activities.HandOffRequest{Key: "lead-x/run-1/handoff/1", Lead: b.lead, Journey: b.journey, Reason: "score 100 reached 90"}
	h, err := a.RecordHandoff(ctx, req)
	require.NoError(t, err)
	post := activities.CRMRequest{Handoff: req, HandoffID: h.ID}

	for range 2 {
		_, err = a.PostToCRM(ctx, post)
		require.ErrorContains(t, err, "the CRM answered 503 Service Unavailable: maintenance")
	}
	p, err := store.GetCRMPost(ctx, a.DB, h.ID)
	require.NoError(t, err)
	require.Equal(t, 2, p.Attempts)
	require.Equal(t, 503, p.LastStatus)
	require.Nil(t, p.DeliveredAt, "listed as failing")
	failing, err := store.FailingCRMPosts(ctx, a.DB, 10)
	require.NoError(t, err)
	require.Len(t, failing, 1)

	res, err := a.PostToCRM(ctx, post)
	require.NoError(t, err)
	require.Equal(t, "delivered", res.Status)
	p, err = store.GetCRMPost(ctx, a.DB, h.ID)
	require.NoError(t, err)
	require.Equal(t, 3, p.Attempts)
	require.NotNil(t, p.DeliveredAt)
	failing, err = store.FailingCRMPosts(ctx, a.DB, 10)
	require.NoError(t, err)
	require.Empty(t, failing)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, bodies, 3)
	for i, hd := range headers {
		require.Equal(t, req.Key, hd.Get(activities.IdempotencyHeader), "the same key on every attempt")
		require.Equal(t, "application/json", hd.Get("Content-Type"))
		// The signature checks out as the receiver checks inbound ones.
		sig := hd.Get(signature.Header)
		ts, v1, ok := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
		require.True(t, ok, sig)
		require.Equal(t, hex.EncodeToString(signature.MAC(secret, ts, bodies[i])), v1)
	}
	requireCRMContract(t, bodies[2])
	var got activities.CRMHandoff
	require.NoError(t, json.Unmarshal(bodies[2], &got))
	require.Equal(t, activities.CRMEvent, got.Event)
	require.Equal(t, h.ID, got.HandoffID)
	require.Equal(t, b.lead.Email, got.Lead.Email)
	require.Equal(t, "sales@acme.test", got.Owner)
	require.Equal(t, "score 100 reached 90", got.Reason)
	require.Len(t, got.RecentActivity, 1)
	require.Equal(t, lead.DemoRequest, got.RecentActivity[0].Type)

	// Without a URL anywhere, or a secret to sign with, nothing is posted
	// and nothing fails.
	a.CRM = activities.CRM{}
	res, err = a.PostToCRM(ctx, post)
	require.NoError(t, err)
	require.Equal(t, "not configured", res.Status)
	a.CRM = activities.CRM{URL: crm.URL}
	res, err = a.PostToCRM(ctx, post)
	require.NoError(t, err)
	require.Equal(t, "not configured", res.Status)
	require.Len(t, bodies, 3, "nothing unsigned went out")
}

// The post's body is what the contract in webhook/openapi.yaml says.
func requireCRMContract(t *testing.T, body []byte) {
	t.Helper()
	doc, err := libopenapi.NewDocument(webhook.OpenAPI())
	require.NoError(t, err)
	model, err := doc.BuildV3Model()
	require.NoError(t, err)
	proxy := model.Model.Components.Schemas.GetOrZero("CRMHandoff")
	require.NotNil(t, proxy, "CRMHandoff is in openapi.yaml")
	ok, verrs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(proxy.Schema(), body)
	for _, e := range verrs {
		t.Errorf("%s: %s", e.Message, e.Reason)
	}
	require.True(t, ok)
}
