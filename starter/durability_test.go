package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nurture-dev/nurture/delivery"
	"github.com/nurture-dev/nurture/email"
	"github.com/nurture-dev/nurture/ingest"
	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/smtpsink"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

// TestRefusedEnrolmentIsReconciled is defect 7 of issue 7: an enrolment
// Temporal refused left a lead stored as nurturing with no workflow. Now
// the lead is stored as not yet enrolled, marked pending, and `starter
// reconcile` asks Temporal again.
func TestRefusedEnrolmentIsReconciled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)
	db := s.db

	// The start of a journey fails on the wire, two ways: refused before
	// it reaches the server, and carried out with the answer lost.
	var answerLost bool
	cutStart := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if !strings.HasSuffix(method, "/SignalWithStartWorkflowExecution") {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		if answerLost {
			if err := invoker(ctx, method, req, reply, cc, opts...); err != nil {
				return err
			}
			return status.Error(codes.DeadlineExceeded, "context deadline exceeded (the answer was lost)")
		}
		return status.Error(codes.Unavailable, "connection reset by peer")
	})
	flaky, err := client.Dial(client.Options{HostPort: s.temporal.Address, Logger: sdklog.NewStructuredLogger(testLogger()),
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{cutStart}}})
	require.NoError(t, err)
	defer flaky.Close()
	refused := &ingest.Intake{DB: db, Temporal: flaky, TaskQueue: t.Name(), DefaultJourney: s.intake.DefaultJourney}
	_, err = refused.Enroll(ctx, lead.Profile{Email: "refused@acme.test", FirstName: "Ref"}, "", "")
	require.ErrorContains(t, err, "starter reconcile asks Temporal again")
	answerLost = true
	_, err = refused.Enroll(ctx, lead.Profile{Email: "lost@acme.test", FirstName: "Lost"}, "", "")
	require.ErrorContains(t, err, "starter reconcile asks Temporal again")
	id := lead.IDForEmail("refused@acme.test")
	for _, email := range []string{"refused@acme.test", "lost@acme.test"} {
		row, err := store.GetLead(ctx, db, lead.IDForEmail(email))
		require.NoError(t, err)
		if email == "refused@acme.test" {
			// (The lost one's journey did start, and its worker may have
			// recorded it by now: only the refused one is surely not.)
			require.NotEqual(t, workflows.LifecycleNurturing, row.Lifecycle, "not stored as in a journey")
		}
		require.Equal(t, "b2b-nurture", row.PendingJourney, "but as an enrolment pending")
	}

	out, err := starter("reconcile", "-older-than", "0s")
	require.NoError(t, err, out)
	require.Contains(t, out, "refused@acme.test ("+id+`): enrolment in "b2b-nurture" pending since`)
	require.Contains(t, out, "journey started, run")
	require.Contains(t, out, "lost@acme.test ("+lead.IDForEmail("lost@acme.test")+`): enrolment in "b2b-nurture" pending since`)
	require.Contains(t, out, "delivered to the running journey")
	_, err = s.sink.Wait(ctx, func([]smtpsink.Message) bool {
		return len(s.sink.To("refused@acme.test")) == 1 && len(s.sink.To("lost@acme.test")) == 1
	})
	require.NoError(t, err, "both journeys run: their first email arrived, once")
	for _, email := range []string{"refused@acme.test", "lost@acme.test"} {
		row, err := store.GetLead(ctx, db, lead.IDForEmail(email))
		require.NoError(t, err)
		require.Empty(t, row.PendingJourney)
	}

	// A lead stored as running whose workflow is gone gets its final state.
	_, err = db.Exec(ctx, `update leads set lifecycle = 'mql' where id = $1`, id)
	require.NoError(t, err)
	require.NoError(t, s.client.TerminateWorkflow(ctx, workflows.WorkflowID(id), "", "operator test"))
	out, err = starter("reconcile")
	require.NoError(t, err, out)
	require.Contains(t, out, "stored as mql, but its workflow is terminated; stored as exited (workflow_terminated)")
	row, err := store.GetLead(ctx, db, id)
	require.NoError(t, err)
	require.EqualValues(t, workflows.LifecycleExited, row.Lifecycle)
}

// TestOversizedInputIsRefusedBeforeStoring is defect 7 of issue 7: a 1 MB
// first name made every send fail forever; an event too large to signal
// was stored and never delivered.
func TestOversizedInputIsRefusedBeforeStoring(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1)
	_, err := s.enroll(ctx, lead.Profile{Email: "big@acme.test", FirstName: strings.Repeat("A", 1<<20)})
	require.ErrorContains(t, err, "first_name is 1048576 bytes; at most 200")
	_, err = store.GetLead(ctx, s.db, lead.IDForEmail("big@acme.test"))
	require.ErrorIs(t, err, store.ErrNotFound, "nothing stored")

	p, err := s.enroll(ctx, lead.Profile{Email: "small@acme.test"})
	require.NoError(t, err)
	props := map[string]string{}
	for i := range 60 {
		props[strings.Repeat("k", 3)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	_, err = s.intake.Record(ctx, lead.Event{ID: "huge", LeadID: p.ID, Type: lead.PageView, OccurredAt: time.Now().UTC(), Properties: props})
	require.ErrorContains(t, err, "60 event propertys; at most 50")
	_, err = s.intake.Record(ctx, lead.Event{ID: "long", LeadID: p.ID, Type: lead.PageView, OccurredAt: time.Now().UTC(),
		Properties: map[string]string{"page": strings.Repeat("/x", 2000)}})
	require.ErrorContains(t, err, `event property "page" is 4000 bytes; at most 2000`)
	n, err := store.CountEvents(ctx, s.db, p.ID)
	require.NoError(t, err)
	require.Zero(t, n, "nothing stored")
}

// TestEventIDsBelongToTheirLead is defect 8 of issue 7: the same sender
// event ID for another lead was reported "already recorded" while the
// workflow scored it.
func TestEventIDsBelongToTheirLead(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1)
	for _, email := range []string{"one@acme.test", "two@acme.test"} {
		p, err := s.enroll(ctx, lead.Profile{Email: email})
		require.NoError(t, err)
		rec, err := s.intake.Record(ctx, lead.Event{ID: "form-1", LeadID: p.ID, Type: lead.ContactForm, OccurredAt: time.Now().UTC()})
		require.NoError(t, err)
		require.True(t, rec.New, "%s: a new event", email)
		require.True(t, rec.Delivered)
		eventually(t, email+" scored", func() bool {
			st, err := workflows.QueryLead(ctx, s.client, p.ID)
			return err == nil && st.EventsSeen == 1
		})
		n, err := store.CountEvents(ctx, s.db, p.ID)
		require.NoError(t, err)
		require.Equal(t, 1, n, "stored for %s", email)
	}
}

// TestSendsCommand lists an ambiguous send, shows it in the lead's status,
// and resolves it both ways.
func TestSendsCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, starter := startSystemForCLI(t, ctx)
	db := s.db
	p, err := s.enroll(ctx, lead.Profile{Email: "maybe@acme.test", FirstName: "May"})
	require.NoError(t, err)

	// Two messages go out to a server that drops its reply: ambiguous.
	dropper, err := smtpsink.Start(smtpsink.Options{Faults: smtpsink.Faults{DropReply: func(smtpsink.Message) bool { return true }}})
	require.NoError(t, err)
	defer dropper.Close()
	mail, err := email.New(email.Config{Host: dropper.Host(), Port: dropper.Port(), TLS: "none", From: "Acme <marketing@acme.test>", ReplyTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer mail.Close()
	for _, key := range []string{"manual/1", "manual/2"} {
		msgID := email.MessageID(key, "acme.test")
		raw, err := mail.Render(email.Message{To: p.Email, Subject: "About " + key, Text: "Hi", MessageID: msgID})
		require.NoError(t, err)
		res, err := delivery.Send(ctx, db, mail, store.Send{Key: key, LeadID: p.ID, JourneyID: "b2b-nurture", Version: 1, StepID: "s", ContentID: "c", To: p.Email, Subject: "About " + key, MessageID: msgID}, raw, delivery.Options{})
		require.NoError(t, err)
		require.Equal(t, delivery.Ambiguous, res.Outcome)
	}

	out, err := starter("sends")
	require.NoError(t, err, out)
	t.Logf("$ starter sends\n%s", out)
	require.Contains(t, out, "ambiguous")
	require.Contains(t, out, "manual/1")
	require.Contains(t, out, "manual/2")
	out, err = starter("status", p.Email)
	require.NoError(t, err, out)
	t.Logf("$ starter status %s\n%s", p.Email, out)
	require.Contains(t, out, "2 ambiguous: went out with no reply, not sent again; see starter sends -lead maybe@acme.test")

	_, err = starter("sends", "resend", "manual/1")
	require.ErrorContains(t, err, "say why with -note")
	out, err = starter("sends", "resend", "manual/1", "-note", "not in the relay's log")
	require.NoError(t, err, out)
	t.Logf("$ starter sends resend manual/1 -note ...\n%s", out)
	require.Contains(t, out, "accepted the message again")
	got := s.sink.To(p.Email)
	var resent *smtpsink.Message
	for i := range got {
		if got[i].Subject == "About manual/1" {
			resent = &got[i]
		}
	}
	require.NotNil(t, resent, "the message reached the configured SMTP server")
	require.Equal(t, dropper.Messages()[0].Raw, resent.Raw, "byte for byte, with its Message-ID")

	out, err = starter("sends", "mark-sent", "manual/2", "-note", "the lead replied to it")
	require.NoError(t, err, out)
	t.Logf("$ starter sends mark-sent manual/2 -note ...\n%s", out)
	out, err = starter("sends")
	require.NoError(t, err, out)
	require.Contains(t, out, "no sends with status ambiguous")
	_, err = starter("sends", "mark-sent", "manual/2", "-note", "again")
	require.ErrorContains(t, err, "is not ambiguous")
}

// quickJourney ends right after its one email.
const quickJourney = `id: %s
name: Quick
scoring:
  mql: 10
  events:
    webinar_signup: {points: 5, axis: interest}
handoff:
  min_score: 100
%s
content:
  - {id: hello, stage: one, subject: "Hello {{.FirstName}}", text: "Hi. Unsubscribe: {{.UnsubscribeURL}}"}
stages:
  - id: one
    steps:
      - {id: s1, send: hello}
      - {id: bye, exit: done}
`

// TestReentryIsDecidedByTemporal: an enrolment of a lead whose journey
// ended starts it again only under the re-entry rule, and an event never
// does; the refusal is Temporal's (the reuse policy), not a read of the
// database that a race could get wrong.
func TestReentryIsDecidedByTemporal(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1)
	for id, rules := range map[string]string{
		"once":  "entry:\n  - {event: webinar_signup}",
		"again": "reentry: {allowed: true}",
	} {
		src := fmt.Sprintf(quickJourney, id, rules)
		j, err := journeys.Parse(id+".yaml", []byte(src))
		require.NoError(t, err)
		_, err = store.PublishJourney(ctx, s.db, j, []byte(src))
		require.NoError(t, err)
	}
	in := *s.intake
	in.DefaultJourney = "once"
	waitClosed := func(id string) {
		eventually(t, "journey of "+id+" ends", func() bool {
			d, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
			return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
		})
	}

	// A known lead never in a journey is enrolled by an entry rule's event.
	p := lead.Profile{Email: "fan@acme.test"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, s.db, p))
	rec, err := in.Record(ctx, lead.Event{ID: "w1", LeadID: p.ID, Type: lead.WebinarSignup, OccurredAt: time.Now().UTC()})
	require.NoError(t, err)
	require.True(t, rec.Enrolled)
	require.True(t, rec.Delivered)
	waitClosed(p.ID)
	// Once it ended, the same kind of event does not start it again...
	rec, err = in.Record(ctx, lead.Event{ID: "w2", LeadID: p.ID, Type: lead.WebinarSignup, OccurredAt: time.Now().UTC()})
	require.NoError(t, err)
	require.False(t, rec.Delivered)
	require.Equal(t, "journey ended (completed)", rec.Why)
	// ... nor does an enrolment: "once" has no re-entry rule.
	_, err = in.Enroll(ctx, p, "once", "")
	require.ErrorIs(t, err, ingest.ErrReentry)
	require.ErrorContains(t, err, `finished journey "once" and the journey does not allow re-entry`)
	require.Len(t, s.sink.To(p.Email), 1, "one email, one journey")

	// A journey that allows re-entry starts a new run, with new send keys.
	q, err := in.Enroll(ctx, lead.Profile{Email: "loyal@acme.test"}, "again", "")
	require.NoError(t, err)
	require.True(t, q.Started)
	waitClosed(q.Profile.ID)
	again, err := in.Enroll(ctx, q.Profile, "again", "")
	require.NoError(t, err)
	require.True(t, again.Started)
	require.NotEqual(t, q.RunID, again.RunID)
	waitClosed(q.Profile.ID)
	require.Len(t, s.sink.To("loyal@acme.test"), 2, "each journey sent its email")
}

// TestContentErrorExitsTheLeadAndPostgresAgrees is defect 5 of issue 7 end
// to end: a template that passed an older, weaker validation fails for one
// lead's data; the lead exits with content_error, the workflow completes,
// and the stored lead says the same.
func TestContentErrorExitsTheLeadAndPostgresAgrees(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := startSystem(t, "", 1)
	src := fmt.Sprintf(quickJourney, "fragile", "")
	j, err := journeys.Parse("fragile.yaml", []byte(src))
	require.NoError(t, err)
	j.Content[0].Subject = "{{slice .FirstName 0 3}}, hello" // published past today's validation
	_, err = store.PublishJourney(ctx, s.db, j, []byte(src+"# fragile"))
	require.NoError(t, err)
	res, err := s.intake.Enroll(ctx, lead.Profile{Email: "al@acme.test", FirstName: "Al"}, "fragile", "")
	require.NoError(t, err)
	var out workflows.Result
	require.NoError(t, s.client.GetWorkflow(ctx, workflows.WorkflowID(res.Profile.ID), "").Get(ctx, &out), "the workflow completes, it does not fail")
	require.EqualValues(t, "content_error", out.ExitReason)
	row, err := store.GetLead(ctx, s.db, res.Profile.ID)
	require.NoError(t, err)
	require.EqualValues(t, workflows.LifecycleExited, row.Lifecycle)
	require.EqualValues(t, "content_error", row.ExitReason)
	require.Empty(t, s.sink.To("al@acme.test"))

	// An event for a journey that did not complete (here terminated) is
	// stored and not delivered, and starts nothing.
	q, err := s.enroll(ctx, lead.Profile{Email: "stopped@acme.test"})
	require.NoError(t, err)
	require.NoError(t, s.client.TerminateWorkflow(ctx, workflows.WorkflowID(q.ID), "", "test"))
	rec, err := s.intake.Record(ctx, lead.Event{ID: "e1", LeadID: q.ID, Type: lead.WebinarSignup, OccurredAt: time.Now().UTC()})
	require.NoError(t, err)
	require.Equal(t, "journey ended (terminated)", rec.Why)
	require.False(t, rec.Delivered)
}
