package delivery_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/delivery"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

type bundle struct {
	db     store.DB
	sink   *smtpsink.Sink
	mail   *email.Sender
	lead   lead.Profile
	render func(key string) (store.Send, []byte)
}

func setup(t *testing.T, faults smtpsink.Faults) *bundle { return setupBench(t, faults) }

func setupBench(t testing.TB, faults smtpsink.Faults) *bundle {
	t.Helper()
	ctx := context.Background()
	b := &bundle{db: storetest.Pool(t)}
	var err error
	b.sink, err = smtpsink.Start(smtpsink.Options{Faults: faults})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.sink.Close() })
	b.mail, err = email.New(email.Config{Host: b.sink.Host(), Port: b.sink.Port(), TLS: "none", From: "Acme <marketing@acme.test>",
		Timeout: 5 * time.Second, ReplyTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(b.mail.Close)
	b.lead = lead.Profile{Email: "ada@analytical.test", FirstName: "Ada"}
	require.NoError(t, b.lead.Normalize())
	require.NoError(t, store.UpsertLead(ctx, b.db, b.lead))
	b.render = func(key string) (store.Send, []byte) {
		msgID := email.MessageID(key, "acme.test")
		raw, err := b.mail.Render(email.Message{To: b.lead.Email, Subject: "Hello " + key, Text: "Hi", MessageID: msgID})
		require.NoError(t, err)
		return store.Send{Key: key, LeadID: b.lead.ID, JourneyID: "j", Version: 1, StepID: "s", ContentID: "c",
			To: b.lead.Email, Subject: "Hello " + key, MessageID: msgID}, raw
	}
	return b
}

func (b *bundle) status(t *testing.T, key string) store.SendStatus {
	t.Helper()
	st, err := store.GetSendStatus(context.Background(), b.db, key)
	require.NoError(t, err)
	return st
}

func TestSendOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, smtpsink.Faults{})
	s, raw := b.render("k1")
	res, err := delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, res.Outcome)
	res, err = delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.AlreadySent, res.Outcome)
	require.Len(t, b.sink.Messages(), 1)
	require.Equal(t, s.MessageID, b.sink.Messages()[0].Header.Get("Message-Id"))
	require.Equal(t, store.SendSent, b.status(t, "k1"))
}

// TestLostReplyIsAmbiguousAndNeverResent is defect 3 of issue 7: the
// server receives the message and its "250" never arrives. Before phases,
// the send was retried on a new connection and delivered again.
func TestLostReplyIsAmbiguousAndNeverResent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var dropped atomic.Int32
	b := setup(t, smtpsink.Faults{DropReply: func(smtpsink.Message) bool { return dropped.Add(1) == 1 }})
	// A connection is reused first, as in a busy worker: the lost reply
	// must not look like a dead reused connection.
	warm, warmRaw := b.render("warm")
	_, err := delivery.Send(ctx, b.db, b.mail, warm, warmRaw, delivery.Options{})
	require.NoError(t, err)
	dropped.Store(0)

	s, raw := b.render("k2")
	res, err := delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Ambiguous, res.Outcome)
	require.Equal(t, store.SendAmbiguous, b.status(t, "k2"))
	// Temporal retries the activity: still ambiguous, still not sent.
	res, err = delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Ambiguous, res.Outcome)
	require.Len(t, b.sink.To(b.lead.Email), 2, "the warm-up and one copy of k2")

	row, err := store.GetSend(ctx, b.db, "k2")
	require.NoError(t, err)
	require.Equal(t, raw, row.Raw, "the message is kept as it went out")

	// An operator sends it again: the same bytes, the same Message-ID.
	res, err = delivery.Resend(ctx, b.db, b.mail, "k2", "resent: not in the server log")
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, res.Outcome)
	msgs := b.sink.To(b.lead.Email)
	require.Len(t, msgs, 3)
	require.Equal(t, msgs[1].Raw, msgs[2].Raw, "byte for byte")
	require.Equal(t, store.SendSent, b.status(t, "k2"))
	_, err = delivery.Resend(ctx, b.db, b.mail, "k2", "again")
	require.ErrorContains(t, err, "only an ambiguous send can be sent again")
}

// TestAttemptThatDiedBeforeTheMessageIsRetried is defect 4 of issue 7: a
// crash before the message went out was treated like one after it, and
// the email was lost.
func TestAttemptThatDiedBeforeTheMessageIsRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, smtpsink.Faults{})
	s, raw := b.render("k3")
	// The dead attempt got as far as an open connection.
	require.NoError(t, store.ClaimSend(ctx, b.db, s, "dead"))
	require.NoError(t, store.AdvanceSend(ctx, b.db, "k3", "dead", store.SendConnected, "", store.SendClaimed))
	res, err := delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, res.Outcome)
	require.Len(t, b.sink.Messages(), 1)

	// One that died after the message went out is ambiguous, not resent.
	s4, raw4 := b.render("k4")
	require.NoError(t, store.ClaimSend(ctx, b.db, s4, "dead"))
	require.NoError(t, store.AdvanceSend(ctx, b.db, "k4", "dead", store.SendConnected, "", store.SendClaimed))
	require.NoError(t, store.AdvanceSend(ctx, b.db, "k4", "dead", store.SendData, "", store.SendConnected))
	res, err = delivery.Send(ctx, b.db, b.mail, s4, raw4, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Ambiguous, res.Outcome)
	require.Len(t, b.sink.Messages(), 1)

	// One whose server accepted it, and which died before recording that,
	// said so in its heartbeat: sent, not ambiguous, not resent.
	s5, raw5 := b.render("k5")
	require.NoError(t, store.ClaimSend(ctx, b.db, s5, "gone"))
	require.NoError(t, store.AdvanceSend(ctx, b.db, "k5", "gone", store.SendConnected, "", store.SendClaimed))
	require.NoError(t, store.AdvanceSend(ctx, b.db, "k5", "gone", store.SendData, "", store.SendConnected))
	res, err = delivery.Send(ctx, b.db, b.mail, s5, raw5, delivery.Options{Accepted: &delivery.Accepted{Key: "k5", Token: "gone"}})
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, res.Outcome)
	require.Equal(t, store.SendSent, b.status(t, "k5"))
	require.Len(t, b.sink.Messages(), 1)
}

func TestRefusalsAndOutages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var tempFail atomic.Bool
	tempFail.Store(true)
	b := setup(t, smtpsink.Faults{RejectRcpt: func(to string) error {
		switch {
		case to == "gone@analytical.test":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case tempFail.Load():
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}
		return nil
	}})
	// A temporary refusal: not delivered, retried, then delivered.
	s, raw := b.render("k6")
	_, err := delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.ErrorContains(t, err, "451")
	require.Equal(t, store.SendFailed, b.status(t, "k6"))
	tempFail.Store(false)
	res, err := delivery.Send(ctx, b.db, b.mail, s, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, res.Outcome)

	// A refusal for good ends the send.
	gone := lead.Profile{Email: "gone@analytical.test"}
	require.NoError(t, gone.Normalize())
	require.NoError(t, store.UpsertLead(ctx, b.db, gone))
	s7 := store.Send{Key: "k7", LeadID: gone.ID, JourneyID: "j", Version: 1, StepID: "s", ContentID: "c", To: gone.Email, Subject: "x", MessageID: "<k7@x>"}
	res, err = delivery.Send(ctx, b.db, b.mail, s7, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Rejected, res.Outcome)
	require.Contains(t, res.Reason, "550")
	res, err = delivery.Send(ctx, b.db, b.mail, s7, raw, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Rejected, res.Outcome, "and stays refused")

	// The server is down: nothing went out, the send is retryable.
	down, err := email.New(email.Config{Host: "127.0.0.1", Port: 1, TLS: "none", From: "m@acme.test", Timeout: time.Second})
	require.NoError(t, err)
	s8, raw8 := b.render("k8")
	_, err = delivery.Send(ctx, b.db, down, s8, raw8, delivery.Options{})
	require.Error(t, err)
	require.Equal(t, store.SendFailed, b.status(t, "k8"))
	res, err = delivery.Send(ctx, b.db, b.mail, s8, raw8, delivery.Options{})
	require.NoError(t, err)
	require.Equal(t, delivery.Sent, res.Outcome)
}
