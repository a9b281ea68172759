package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/proxy"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/nurture-dev/nurture/codec"
	"github.com/nurture-dev/nurture/keyring"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/workflows"
)

const testPayloadKeys = "k1=payload-key-of-at-least-thirty-two-bytes-1"

// personal is what must not be readable anywhere once Ada is erased.
var personal = []string{"ada@analytical.test", "Lovelace", "Analytical Engines", "+44 20 7946 0000"}

// TestEraseLeavesNothingReadable runs a sealed system: Ada's history holds
// nothing readable without the codec; once erased, PostgreSQL holds
// nothing of her, Temporal no run, and a copy of her history taken before
// (a backup) opens only where it holds nothing of hers. Grace, not erased,
// reads as before.
func TestEraseLeavesNothingReadable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	keys, err := keyring.Setting{Env: "PAYLOAD_KEYS", What: "payload"}.Parse(testPayloadKeys)
	require.NoError(t, err)
	var sealer *codec.Codec
	s, starter := startSystemForCLIWith(t, ctx, []func(*system){func(s *system) {
		sealer, err = codec.New(s.db, keys)
		require.NoError(t, err)
		s.codec = sealer
	}}, "PAYLOAD_KEYS", testPayloadKeys)
	db := s.db

	ada, err := s.enroll(ctx, lead.Profile{Email: "ada@analytical.test", FirstName: "Ada", LastName: "Lovelace", Company: "Analytical Engines", Title: "CTO"})
	require.NoError(t, err)
	grace, err := s.enroll(ctx, lead.Profile{Email: "grace@cobol.test", FirstName: "Grace", LastName: "Hopper"})
	require.NoError(t, err)
	eventually(t, "the first emails", func() bool { return len(s.sink.To(ada.Email)) == 1 && len(s.sink.To(grace.Email)) == 1 })
	_, err = s.intake.Record(ctx, lead.Event{ID: "form-1", LeadID: ada.ID, Type: lead.ContactForm, OccurredAt: time.Now().UTC(),
		Properties: map[string]string{"phone": "+44 20 7946 0000"}})
	require.NoError(t, err)
	eventually(t, "the form counted", func() bool {
		st, err := workflows.QueryLead(ctx, s.client, ada.ID)
		return err == nil && st.EventsSeen == 1
	})

	// An operator's free text about her is hers too.
	_, err = workflows.RemoveLead(ctx, s.client, ada.ID, workflows.Removal{Reason: "asked by phone, +44 20 7946 0000"}, 10*time.Second)
	require.NoError(t, err)

	// At rest, sealed: the raw history names nobody.
	backup := history(t, ctx, s.client, ada.ID)
	// (The wire form: payload data are their bytes as written, where
	// protojson would show them in base64.)
	raw, err := proto.Marshal(&historypb.History{Events: backup})
	require.NoError(t, err)
	for _, p := range personal {
		require.NotContains(t, string(raw), p)
	}
	// ... and opens with the codec (so the checks below can fail).
	opened := openAll(t, ctx, sealer, backup)
	require.Contains(t, strings.Join(opened.text, "\n"), "ada@analytical.test")
	require.Contains(t, strings.Join(opened.text, "\n"), "+44 20 7946 0000")

	out, err := starter("erase", "ada@analytical.test")
	require.NoError(t, err, out)
	require.Contains(t, out, "erased lead "+ada.ID+": its profile, the details of 1 events, the address and subject of 1 emails")
	require.Contains(t, out, "deleted 1 journey runs from Temporal")
	t.Log(out)

	// PostgreSQL: nothing of hers in any table; what reports count stays.
	for _, table := range []string{"leads", "events", "sends", "score_snapshots", "handoffs", "tasks", "suppressions", "lead_keys", "crm_posts"} {
		var rows []string
		r, err := db.Query(ctx, `select t::text from `+table+` t`)
		require.NoError(t, err)
		for r.Next() {
			var row string
			require.NoError(t, r.Scan(&row))
			rows = append(rows, row)
		}
		require.NoError(t, r.Err())
		for _, p := range personal {
			require.NotContains(t, strings.Join(rows, "\n"), p, "table %s", table)
		}
	}
	var sends int
	require.NoError(t, db.QueryRow(ctx, `select count(*) from sends where lead_id = $1 and status = 'sent'`, ada.ID).Scan(&sends))
	require.Equal(t, 1, sends, "the send still counts")

	// Temporal: the run is gone (the server deletes in the background).
	eventually(t, "the run deleted", func() bool {
		_, err := s.client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(ada.ID), "")
		var nf *serviceerror.NotFound
		return errors.As(err, &nf)
	})

	// The backup: a codec that has not cached her key (another process)
	// opens only what holds nothing of hers.
	fresh, err := codec.New(db, keys)
	require.NoError(t, err)
	after := openAll(t, ctx, fresh, backup)
	require.Equal(t, len(opened.text), after.erased+len(after.text), "every payload counted")
	require.Positive(t, after.erased, "her payloads do not open")
	// Everything her journey wrote was sealed with her key; what opens
	// (failures' messages, under the payload key) names no one.
	for _, p := range personal {
		require.NotContains(t, strings.Join(after.text, "\n"), p)
	}
	// Grace reads as before.
	require.Zero(t, openAll(t, ctx, fresh, history(t, ctx, s.client, grace.ID)).erased)

	// She cannot come back in, by enrolment or by event.
	_, err = s.enroll(ctx, lead.Profile{Email: "ada@analytical.test"})
	require.ErrorIs(t, err, store.ErrErased)
	_, err = s.intake.Record(ctx, lead.Event{ID: "late", LeadID: ada.ID, Type: lead.ContactForm, OccurredAt: time.Now().UTC(),
		Properties: map[string]string{"phone": "+44 20 7946 0000"}})
	require.ErrorIs(t, err, store.ErrErased)
	var events int
	require.NoError(t, db.QueryRow(ctx, `select count(*) from events where lead_id = $1`, ada.ID).Scan(&events))
	require.Equal(t, 1, events, "the late event is not stored")
	_, suppressed, err := store.IsSuppressed(ctx, db, "ada@analytical.test")
	require.NoError(t, err)
	require.True(t, suppressed, "nothing is mailed to her")
	require.NoError(t, store.Suppress(ctx, db, "ada@analytical.test", "hard_bounce"))
	var entries int
	require.NoError(t, db.QueryRow(ctx, `select count(*) from suppressions where email = 'ada@analytical.test'`).Scan(&entries))
	require.Zero(t, entries, "a late bounce does not write her address back")

	// Again: nothing more to do, and it says so; an unknown lead is an
	// error.
	out, err = starter("erase", ada.ID)
	require.NoError(t, err, out)
	require.Contains(t, out, "was erased before")
	out, err = starter("erase", "nobody@nowhere.test")
	require.ErrorContains(t, err, "no lead nobody@nowhere.test in this database: nothing erased")
	require.Equal(t, 1, exitCode(err), out)
}

func history(t *testing.T, ctx context.Context, c client.Client, leadID string) []*historypb.HistoryEvent {
	t.Helper()
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, workflows.WorkflowID(leadID), "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		events = append(events, ev)
	}
	return events
}

type openedPayloads struct {
	text   []string
	erased int
}

// openAll opens every payload of the events with c, as the codec server
// would: the text of those that open, the count of those erased.
func openAll(t *testing.T, ctx context.Context, c *codec.Codec, events []*historypb.HistoryEvent) openedPayloads {
	t.Helper()
	var o openedPayloads
	for _, ev := range events {
		err := proxy.VisitPayloads(ctx, ev, proxy.VisitPayloadsOptions{SkipSearchAttributes: true,
			Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
				for _, p := range ps {
					out, err := c.Decode([]*commonpb.Payload{p})
					if errors.Is(err, codec.ErrErased) {
						o.erased++
						continue
					}
					require.NoError(t, err)
					o.text = append(o.text, string(out[0].GetData()))
				}
				return ps, nil
			}})
		require.NoError(t, err)
	}
	return o
}
