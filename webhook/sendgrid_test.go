package webhook_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/sendgrid"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/webhook"
	"github.com/nurture-dev/nurture/workflows"
)

// sendgridPost signs a body as SendGrid does (ECDSA P-256 over timestamp
// and body) and posts it.
func (b *bundle) sendgridPost(key *ecdsa.PrivateKey, body []byte) response {
	b.t.Helper()
	ts := strconv.FormatInt(now.Unix(), 10)
	sum := sha256.Sum256(append([]byte(ts), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	require.NoError(b.t, err)
	req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, b.http.URL+"/v1/providers/sendgrid", bytes.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sendgrid.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set(sendgrid.TimestampHeader, ts)
	return b.send(req)
}

func TestSendGridEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	body := []byte(`[]`)
	r := b.sendgridPost(key, body)
	require.Equal(t, http.StatusNotFound, r.status, "not set up: refused")
	b.srv.SendGridKey = &key.PublicKey

	ada := b.enroll(lead.Profile{Email: "ada@analytical.test", FirstName: "Ada"})
	grace := b.enroll(lead.Profile{Email: "grace@cobol.test", FirstName: "Grace"})
	sends, err := store.ListSends(b.ctx, b.db, ada.ID, 10)
	require.NoError(t, err)
	key1 := sends[0].Key
	// Pretend the first email's reply was lost: SendGrid's "delivered"
	// settles it.
	_, err = b.db.Exec(b.ctx, `update sends set status = 'ambiguous' where idempotency_key = $1`, key1)
	require.NoError(t, err)
	own, err := b.signer.ClickURL(ada.ID, key1, "benchmark-report", "https://acme.test/report")
	require.NoError(t, err)

	events := []map[string]any{
		{"email": ada.Email, "timestamp": now.Unix(), "event": "delivered", "sg_event_id": "ev-delivered", "nurture_key": key1, "nurture_lead": ada.ID},
		{"email": ada.Email, "timestamp": now.Unix(), "event": "open", "sg_event_id": "ev-open", "nurture_key": key1, "nurture_lead": ada.ID},
		{"email": ada.Email, "timestamp": now.Unix(), "event": "click", "sg_event_id": "ev-own-click", "url": own, "nurture_key": key1, "nurture_lead": ada.ID},
		{"email": grace.Email, "timestamp": now.Unix(), "event": "bounce", "type": "bounce", "sg_event_id": "ev-bounce", "status": "5.1.1"},
		{"email": "stranger@else.test", "timestamp": now.Unix(), "event": "open", "sg_event_id": "ev-stranger"},
		{"email": ada.Email, "timestamp": "yesterday", "event": "open", "sg_event_id": "ev-bad"},
		{"email": ada.Email, "timestamp": now.Unix(), "event": "processed", "sg_event_id": "ev-processed"},
		{"email": "dropped@else.test", "timestamp": now.Unix(), "event": "dropped", "reason": "Bounced Address", "sg_event_id": "ev-dropped"},
	}
	body, err = json.Marshal(events)
	require.NoError(t, err)
	r = b.sendgridPost(key, body)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var out webhook.SendGridOut
	r.json(t, &out)
	require.Equal(t, webhook.SendGridOut{Events: 8, Recorded: 2, Delivered: 1, Suppressed: 1, Ignored: 4}, out)

	status, err := store.GetSendStatus(b.ctx, b.db, key1)
	require.NoError(t, err)
	require.Equal(t, store.SendSent, status, "SendGrid's word settles an ambiguous send")
	b.eventually("the open scored, the click on nurture's own link not", func() bool { return b.status(ada.ID).EventsSeen == 1 })
	_, suppressed, err := store.IsSuppressed(b.ctx, b.db, grace.Email)
	require.NoError(t, err)
	require.True(t, suppressed, "a hard bounce suppresses across journeys")
	_, suppressed, err = store.IsSuppressed(b.ctx, b.db, "dropped@else.test")
	require.NoError(t, err)
	require.True(t, suppressed, "SendGrid's own suppression list is ours too")
	var res workflows.Result
	require.NoError(t, b.client.GetWorkflow(b.ctx, workflows.WorkflowID(grace.ID), "").Get(b.ctx, &res))
	require.EqualValues(t, "hard_bounce", res.ExitReason)

	// SendGrid sends the batch again: nothing more happens.
	r = b.sendgridPost(key, body)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	out = webhook.SendGridOut{}
	r.json(t, &out)
	require.Equal(t, webhook.SendGridOut{Events: 8, Repeated: 2, Delivered: 1, Suppressed: 1, Ignored: 4}, out)
	require.Equal(t, 1, b.status(ada.ID).EventsSeen)

	// Signed by someone else, or altered: 401, nothing done.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	r = b.sendgridPost(other, []byte(`[{"email": "ada@analytical.test", "timestamp": 1, "event": "spamreport", "sg_event_id": "forged"}]`))
	require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
	_, suppressed, err = store.IsSuppressed(b.ctx, b.db, ada.Email)
	require.NoError(t, err)
	require.False(t, suppressed)
	r = b.sendgridPost(key, []byte(`{"not": "an array"}`))
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
}
