package activities_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/activities"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/links"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

type testBundle struct {
	sink    *smtpsink.Sink
	lead    lead.Profile
	journey activities.JourneyRef
	signer  links.Signer
}

func setup(t *testing.T) (*activities.Activities, *testBundle) {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Pool(t)
	sink, err := smtpsink.Start(smtpsink.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sink.Close() })
	sender, err := email.New(email.Config{Host: sink.Host(), Port: sink.Port(), TLS: "none", From: "Acme Marketing <marketing@acme.test>"})
	require.NoError(t, err)
	t.Cleanup(sender.Close)

	j, src, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	pub, err := store.PublishJourney(ctx, pool, j, src)
	require.NoError(t, err)
	p := lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))

	signer := links.Signer{Keys: []links.Key{{ID: "t", Secret: []byte("test-secret-0123456789abcdef012345")}}, BaseURL: "https://hooks.acme.test"}
	a := &activities.Activities{DB: pool, Mail: sender, Links: signer, SalesEmail: "sales@acme.test", Log: slog.New(slog.DiscardHandler)}
	return a, &testBundle{sink: sink, lead: p, journey: activities.JourneyRef{ID: j.ID, Version: pub.Version}, signer: signer}
}

func TestSendContentMailsOnceWhenRetried(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	req := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}

	first, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, first.Status)

	// The activity is retried (a worker died after sending, before
	// reporting): same key, concurrently and in sequence.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.SendContent(ctx, req)
			require.NoError(t, err)
			require.Equal(t, activities.SendDuplicate, res.Status)
			require.Equal(t, first.MessageID, res.MessageID)
		}()
	}
	wg.Wait()
	require.Len(t, b.sink.To(b.lead.Email), 1, "a retried send must not mail twice")

	// The next occurrence of the step is a new send.
	req.Key = "lead-x/run-1/send-benchmark/2"
	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	require.Len(t, b.sink.To(b.lead.Email), 2)
}

func TestSendContentAfterAWorkerDiedMidSend(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	req := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}
	// An earlier attempt's worker was killed after it had connected, before
	// the message went out: nothing can have arrived, so it is sent.
	claim := func(key string, status store.SendStatus) {
		_, err := a.DB.Exec(ctx, `insert into sends (idempotency_key, lead_id, journey_id, version, step_id, content_id, to_address, subject, message_id, status, claim_token)
values ($1, $2, $3, $4, 'send-benchmark', 'benchmark-report', $5, 's', 'm', $6, 'dead')`, key, b.lead.ID, b.journey.ID, b.journey.Version, b.lead.Email, status)
		require.NoError(t, err)
	}
	claim(req.Key, store.SendConnected)
	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	require.Len(t, b.sink.Messages(), 1)

	// One killed after the message's end went out may have delivered it:
	// ambiguous, and not mailed again.
	req.Key = "lead-x/run-1/send-benchmark/2"
	claim(req.Key, store.SendData)
	res, err = a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendAmbiguous, res.Status)
	require.Len(t, b.sink.Messages(), 1, "never mailed twice")
	rows, err := store.ListSends(ctx, a.DB, b.lead.ID, 10, store.SendAmbiguous)
	require.NoError(t, err)
	require.Len(t, rows, 1, "listed for operators")
	require.True(t, rows[0].HasMessage, "with the message, for a resend")
}

// TestContentThatCannotRenderForALeadIsAResultNotAFailure is defect 5 of
// issue 7: a template that fails for one lead's data failed the workflow.
func TestContentThatCannotRenderForALeadIsAResultNotAFailure(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	j, _, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)
	// Published past validation, as by an older release that checked less.
	for i := range j.Content {
		if j.Content[i].ID == "benchmark-report" {
			j.Content[i].Subject = "{{slice .FirstName 0 3}}, the benchmark"
		}
	}
	j.ID = "fragile"
	pub, err := store.PublishJourney(ctx, a.DB, j, []byte("fragile"))
	require.NoError(t, err)
	al := lead.Profile{Email: "al@short.test", FirstName: "Al"}
	require.NoError(t, al.Normalize())
	require.NoError(t, store.UpsertLead(ctx, a.DB, al))
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/al", Lead: al, Journey: activities.JourneyRef{ID: "fragile", Version: pub.Version}, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)
	require.Equal(t, activities.SendContentError, res.Status)
	require.Contains(t, res.Reason, "slice")
	require.Empty(t, b.sink.Messages())
	n, err := store.CountSendsByStatus(ctx, a.DB, al.ID)
	require.NoError(t, err)
	require.Empty(t, n, "nothing claimed")
}

func TestSendContentRetriesAfterAnSMTPOutage(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	down, err := email.New(email.Config{Host: "127.0.0.1", Port: 1, TLS: "none", From: "m@acme.test", Timeout: time.Second})
	require.NoError(t, err)
	outage := &activities.Activities{DB: a.DB, Mail: down, Links: a.Links, Log: a.Log}
	req := activities.SendRequest{Key: "lead-x/run-1/send-benchmark/1", Lead: b.lead, Journey: b.journey, StepID: "send-benchmark", ContentID: "benchmark-report"}
	_, err = outage.SendContent(ctx, req)
	require.Error(t, err, "the activity fails, so Temporal retries it")

	res, err := a.SendContent(ctx, req)
	require.NoError(t, err)
	require.Equal(t, activities.SendSent, res.Status)
	require.Len(t, b.sink.Messages(), 1)
}

func TestSentMailHasTheHeadersReceiversNeed(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/1", Lead: b.lead, Journey: b.journey, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)

	msgs := b.sink.To(b.lead.Email)
	require.Len(t, msgs, 1)
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Raw))
	require.NoError(t, err)
	require.Equal(t, res.MessageID, m.Header.Get("Message-ID"))
	require.Equal(t, email.MessageID("k/1", "acme.test"), res.MessageID, "the Message-ID is derived from the send key")
	require.Equal(t, "List-Unsubscribe=One-Click", m.Header.Get("List-Unsubscribe-Post"))
	unsub := m.Header.Get("List-Unsubscribe")
	require.True(t, strings.HasPrefix(unsub, "<https://hooks.acme.test/unsubscribe/"), unsub)
	token := strings.TrimSuffix(strings.TrimPrefix(unsub, "<https://hooks.acme.test/unsubscribe/"), ">")
	claims, err := b.signer.Parse(links.Unsubscribe, token)
	require.NoError(t, err)
	require.Equal(t, b.lead.ID, claims.LeadID)
	require.Equal(t, "Ada, the 2026 B2B pipeline benchmark is here", msgs[0].Subject)
	require.Equal(t, "benchmark-report", m.Header.Get("X-Nurture-Content"))

	// HTML and plain text, as alternatives.
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	parts := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		body, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[ct] = string(body)
	}
	require.Contains(t, parts, "text/plain")
	require.Contains(t, parts, "text/html")
	require.Contains(t, parts["text/html"], "Analytical Engines")
}

func TestSendContentChecksSuppressionAtSendTime(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	require.NoError(t, store.Suppress(ctx, a.DB, b.lead.Email, "unsubscribe"))
	res, err := a.SendContent(ctx, activities.SendRequest{Key: "k/1", Lead: b.lead, Journey: b.journey, StepID: "s", ContentID: "benchmark-report"})
	require.NoError(t, err)
	require.Equal(t, activities.SendSuppressed, res.Status)
	require.Equal(t, "unsubscribe", res.Reason)
	require.Empty(t, b.sink.Messages())
}

func TestHandOffIsRecordedOnceAndMailsSales(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	score := scoring.Score{Fit: 15, Interest: 45, Intent: 40, FitGrade: "B", EngagementGrade: "1", Breakdown: []scoring.Line{
		{Rule: "event:demo_request", Axis: scoring.Intent, Count: 1, Points: 40, Decayed: 40},
		{Rule: "event:webinar_signup", Axis: scoring.Interest, Count: 1, Points: 20, Decayed: 10},
		{Rule: "fit:senior title", Axis: scoring.Fit, Count: 1, Points: 15, Decayed: 15},
	}}
	req := activities.HandOffRequest{Key: "lead-x/run-1/handoff/1", Lead: b.lead, Journey: b.journey, Score: score, Reason: "score 100 reached 90"}
	first, err := a.RecordHandoff(ctx, req)
	require.NoError(t, err)
	again, err := a.RecordHandoff(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first.ID, again.ID)
	for range 2 {
		res, err := a.NotifySales(ctx, activities.NoticeRequest{Handoff: req, HandoffID: first.ID})
		require.NoError(t, err)
		require.Contains(t, []string{"sent", "duplicate"}, res.Status)
	}
	// Workflows from before the notice went apart call both at once.
	old, err := a.HandOff(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first.ID, old.ID)

	hs, err := store.ListHandoffs(ctx, a.DB, b.lead.ID)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.Equal(t, 100, hs[0].Total)
	notices := b.sink.To("sales@acme.test")
	require.Len(t, notices, 1)
	m, err := mail.ReadMessage(bytes.NewReader(notices[0].Raw))
	require.NoError(t, err)
	decoded, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	require.NoError(t, err)
	body := string(decoded)
	require.Contains(t, body, "event:demo_request")
	require.Contains(t, body, "Score 100 = fit 15 + interest 45 + intent 40 + adjusted 0 (grade B1)", "the parts add up to the score")
	require.Regexp(t, `event:webinar_signup\s+x1\s+\+20\s+\+10`, body, "points given and worth now")

	require.NoError(t, a.RecordVerdict(ctx, activities.VerdictRequest{HandoffID: first.ID, Verdict: "accepted"}))
	hs, err = store.ListHandoffs(ctx, a.DB, b.lead.ID)
	require.NoError(t, err)
	require.Equal(t, "accepted", hs[0].Verdict)
}

func TestLoadJourneyPinsTheVersionAndDropsBodies(t *testing.T) {
	t.Parallel()
	a, b := setup(t)
	ctx := context.Background()
	got, err := a.LoadJourney(ctx, b.lead.ID, activities.JourneyRef{ID: b.journey.ID})
	require.NoError(t, err)
	require.Equal(t, b.journey.Version, got.Version)
	for _, c := range got.Journey.Content {
		require.Empty(t, c.HTML+c.Text+c.Subject, "content bodies stay out of workflow history")
	}
	_, err = a.LoadJourney(ctx, b.lead.ID, activities.JourneyRef{ID: "missing"})
	require.ErrorContains(t, err, "publish it first")
}
