package sendgrid_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/sendgrid"
)

func TestMapDocumentedEvents(t *testing.T) {
	t.Parallel()
	events := docEvents(t)
	key := "lead-" + docLead + "/1/send-benchmark/1"
	at := time.Unix(1513299569, 0).UTC()
	leadEvent := func(typ lead.EventType, sgID string, props map[string]string) lead.Event {
		p := map[string]string{"sg_event_id": sgID, "send_key": key}
		for k, v := range props {
			p[k] = v
		}
		return lead.Event{ID: "sendgrid:" + sgID, LeadID: docLead, Type: typ, OccurredAt: at, Source: "sendgrid", Properties: p}
	}
	want := []struct {
		ok   bool
		act  sendgrid.Action
		note string
	}{
		{false, sendgrid.Action{}, "processed: nothing to do"},
		{true, sendgrid.Action{Suppress: lead.HardBounce}, `dropped by SendGrid ("Bounced Address"), the address being on its suppression list: the address is suppressed (hard_bounce)`},
		{true, sendgrid.Action{Delivered: key}, "delivered to the receiving server: the send is marked delivered"},
		{false, sendgrid.Action{}, "deferred: nothing to do"},
		{true, sendgrid.Action{Suppress: lead.HardBounce, Event: leadEvent(lead.HardBounce, "6g4ZI7SA-xmRDv57GoPIPw==", nil)},
			`hard bounce (status "5.0.0"): the address is suppressed`},
		{false, sendgrid.Action{}, `blocked for now by the receiving server (status "5.0.0"): a soft bounce, nothing done`},
		{true, sendgrid.Action{Event: leadEvent(lead.EmailOpen, "FOTFFO0ecsBE-zxFXfs6WA==", nil)}, "the email was opened"},
		{true, sendgrid.Action{Event: leadEvent(lead.EmailClick, "kCAi1KttyQdEKHhdC-nuEA==", map[string]string{"url": "http://www.sendgrid.com/"})},
			"a link in the email was clicked"},
		{true, sendgrid.Action{Suppress: lead.SpamComplaint, Event: leadEvent(lead.SpamComplaint, "37nvH5QBz858KGVYCM4uOA==", nil)},
			"marked as spam: the address is suppressed"},
		{true, sendgrid.Action{Suppress: lead.Unsubscribe, Event: leadEvent(lead.Unsubscribe, "zz_BjPgU_5pS-J8vlfB1sg==", nil)},
			"unsubscribed through SendGrid (unsubscribe): the address is suppressed"},
		{true, sendgrid.Action{Suppress: lead.Unsubscribe, Event: leadEvent(lead.Unsubscribe, "ahSCB7xYcXFb-hEaawsPRw==", nil)},
			"unsubscribed through SendGrid (group_unsubscribe): the address is suppressed"},
		{false, sendgrid.Action{}, "group_resubscribe: nothing to do"},
	}
	for i, w := range want {
		act, ok := events[i].Map()
		require.Equal(t, w.ok, ok, "event %d (%s)", i, events[i].Kind)
		w.act.Email = "example@test.com"
		w.act.Note = w.note
		require.Equal(t, w.act, act, "event %d (%s)", i, events[i].Kind)
		if act.Event.Type != "" {
			require.NoError(t, act.Event.Validate())
		}
	}

	// A click on mail nurture did not send: the lead is the address's,
	// and there is no send key.
	act, ok := events[12].Map()
	require.True(t, ok)
	require.Equal(t, lead.Event{
		ID: "sendgrid:sendgrid_internal_event_id", LeadID: lead.IDForEmail("email@example.com"), Type: lead.EmailClick,
		OccurredAt: time.Unix(1249948800, 0).UTC(), Source: "sendgrid",
		Properties: map[string]string{"sg_event_id": "sendgrid_internal_event_id", "url": "http://yourdomain.com/blog/news.html"},
	}, act.Event)
	require.NoError(t, act.Event.Validate())
}

func mapOne(t *testing.T, fields map[string]any) (sendgrid.Action, bool) {
	t.Helper()
	base := map[string]any{"email": " Ada@Analytical.TEST ", "timestamp": 1795428000, "sg_event_id": "ZXZlbnQtMQ"}
	for k, v := range fields {
		base[k] = v
	}
	b, err := json.Marshal([]any{base})
	require.NoError(t, err)
	events, err := sendgrid.Parse(b, sendgrid.Limits{})
	require.NoError(t, err)
	require.NoError(t, events[0].Err)
	act, ok := events[0].Map()
	require.NotEmpty(t, act.Note)
	require.NotContains(t, act.Note, "ada@", "notes name no address")
	require.Equal(t, "ada@analytical.test", act.Email)
	if act.Event.Type != "" {
		require.NoError(t, act.Event.Validate())
		require.Equal(t, "sendgrid:"+base["sg_event_id"].(string), act.Event.ID)
		require.Equal(t, time.Unix(1795428000, 0).UTC(), act.Event.OccurredAt)
	}
	return act, ok
}

func TestMapEveryCase(t *testing.T) {
	t.Parallel()
	ada := lead.IDForEmail("ada@analytical.test")

	// The lead is the address's unless nurture_lead names one.
	act, ok := mapOne(t, map[string]any{"event": "open"})
	require.True(t, ok)
	require.Equal(t, ada, act.Event.LeadID)
	require.Equal(t, lead.EmailOpen, act.Event.Type)
	require.Empty(t, act.Suppress)
	other := lead.IDForEmail("ada@old-employer.test")
	act, _ = mapOne(t, map[string]any{"event": "open", "nurture_lead": other})
	require.Equal(t, other, act.Event.LeadID)

	// A machine open is still an open, marked as such.
	act, ok = mapOne(t, map[string]any{"event": "open", "sg_machine_open": true})
	require.True(t, ok)
	require.Equal(t, "true", act.Event.Properties["machine_open"])
	require.Contains(t, act.Note, "machine open")

	act, ok = mapOne(t, map[string]any{"event": "click", "url": "https://acme.test/case?utm=x"})
	require.True(t, ok)
	require.Equal(t, lead.EmailClick, act.Event.Type)
	require.Equal(t, map[string]string{"url": "https://acme.test/case?utm=x", "sg_event_id": "ZXZlbnQtMQ"}, act.Event.Properties)

	// delivered: only for sends nurture made.
	act, ok = mapOne(t, map[string]any{"event": "delivered", "nurture_key": "lead-" + ada + "/1/send-benchmark/1"})
	require.True(t, ok)
	require.Equal(t, sendgrid.Action{Delivered: "lead-" + ada + "/1/send-benchmark/1", Email: "ada@analytical.test", Note: act.Note}, act)
	act, ok = mapOne(t, map[string]any{"event": "delivered"})
	require.False(t, ok)
	require.Empty(t, act.Delivered)
	require.Contains(t, act.Note, "no nurture_key")

	// Bounces: hard, soft, and of a type nurture does not know.
	act, ok = mapOne(t, map[string]any{"event": "bounce", "type": "bounce", "reason": "550 5.1.1 <ada@analytical.test>: user unknown", "status": "5.1.1"})
	require.True(t, ok)
	require.Equal(t, lead.HardBounce, act.Event.Type)
	require.Equal(t, lead.HardBounce, act.Suppress)
	act, ok = mapOne(t, map[string]any{"event": "bounce", "type": "blocked", "reason": "421 try later", "status": "4.7.0"})
	require.False(t, ok)
	require.Equal(t, sendgrid.Action{Email: "ada@analytical.test", Note: act.Note}, act)
	require.Contains(t, act.Note, "soft bounce")
	for _, typ := range []any{nil, "", "expired"} {
		act, ok = mapOne(t, map[string]any{"event": "bounce", "type": typ})
		require.False(t, ok, "type %v", typ)
		require.Empty(t, act.Suppress)
		require.Empty(t, act.Event.Type)
	}

	// Drops: suppressed only when the address is on one of SendGrid's
	// lists of bounces, spam reports and unsubscribes.
	for reason, want := range map[string]lead.EventType{
		"Bounced Address":                   lead.HardBounce,
		"Spam Reporting Address":            lead.SpamComplaint,
		"Unsubscribed Address":              lead.Unsubscribe,
		"unsubscribed address":              lead.Unsubscribe,
		"Dropped: Bounced Address":          lead.HardBounce,
		"Invalid":                           "",
		"Invalid SMTPAPI header":            "",
		"Spam Content":                      "",
		"Recipient List over Package Quota": "",
		"":                                  "",
	} {
		act, ok = mapOne(t, map[string]any{"event": "dropped", "reason": reason})
		require.Equal(t, want != "", ok, "reason %q", reason)
		require.Equal(t, want, act.Suppress, "reason %q", reason)
		require.Empty(t, act.Event.Type, "a drop records no lead event")
	}

	for kind, want := range map[string]lead.EventType{
		"spamreport":        lead.SpamComplaint,
		"unsubscribe":       lead.Unsubscribe,
		"group_unsubscribe": lead.Unsubscribe,
	} {
		act, ok = mapOne(t, map[string]any{"event": kind})
		require.True(t, ok)
		require.Equal(t, want, act.Event.Type)
		require.Equal(t, want, act.Suppress)
	}

	for _, kind := range []string{"processed", "deferred", "group_resubscribe", "account_status_change", "machine_opened"} {
		act, ok = mapOne(t, map[string]any{"event": kind})
		require.False(t, ok, kind)
		require.Equal(t, sendgrid.Action{Email: "ada@analytical.test", Note: act.Note}, act, kind)
	}
}

// An event ID as long as SendGrid allows still fits the lead package.
func TestLongestEventIDFits(t *testing.T) {
	t.Parallel()
	act, ok := mapOne(t, map[string]any{"event": "open", "sg_event_id": strings.Repeat("A", sendgrid.MaxSGEventID)})
	require.True(t, ok)
	require.Len(t, act.Event.ID, lead.MaxEventID)
	require.NoError(t, act.Event.Validate())
}

// What nurture puts in X-SMTPAPI comes back in SendGrid's events: SendGrid
// adds the unique arguments to each event as top-level fields.
func TestSMTPAPIRoundTrip(t *testing.T) {
	t.Parallel()
	ada := lead.IDForEmail("ada@analytical.test")
	key := "lead-" + ada + "/1/send-benchmark/1"
	header := sendgrid.SMTPAPI(key, ada)
	require.Equal(t, `{"unique_args":{"nurture_key":"`+key+`","nurture_lead":"`+ada+`"}}`, header)

	var smtpapi struct {
		UniqueArgs map[string]string `json:"unique_args"`
	}
	require.NoError(t, json.Unmarshal([]byte(header), &smtpapi))
	event := map[string]any{"email": "ada@analytical.test", "timestamp": 1795428000, "event": "delivered", "sg_event_id": "ZGVsaXZlcmVk"}
	for k, v := range smtpapi.UniqueArgs {
		event[k] = v
	}
	body, err := json.Marshal([]any{event})
	require.NoError(t, err)
	events, err := sendgrid.Parse(body, sendgrid.Limits{})
	require.NoError(t, err)
	require.Equal(t, key, events[0].SendKey)
	require.Equal(t, ada, events[0].LeadID)

	// A header is ASCII: other characters are escaped, and read back.
	header = sendgrid.SMTPAPI("stép/😀\n", ada)
	for i := 0; i < len(header); i++ {
		require.Less(t, header[i], byte(0x80))
		require.GreaterOrEqual(t, header[i], byte(0x20))
	}
	require.NoError(t, json.Unmarshal([]byte(header), &smtpapi))
	require.Equal(t, "stép/😀\n", smtpapi.UniqueArgs["nurture_key"])
}
