package sendgrid_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/sendgrid"
)

// docBody is one batch holding an example of every kind of event, taken
// from SendGrid's Event Webhook Reference (github.com/sendgrid/docs,
// content/docs/for-developers/tracking-events/event.md at commit
// 02c1275b9154eecde622c5df8e4d5f5251839911; today
// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event):
// the examples of the delivery and engagement tables, in their order,
// with their fields, IDs and timestamps, and the click of its "Click"
// section (category as an array, url_offset and newsletter objects).
// What SendGrid would add for mail nurture sent is added: the unique
// arguments nurture_key and nurture_lead (LEAD stands for the lead's ID),
// on all but the processed event and the last click.
const docBody = `[
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "pool": {
            "name": "new_MY_test",
            "id": 210
        },
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"processed",
      "category":"cat facts",
      "sg_event_id":"rbtnWrG1DVDGGGFHFyun0A==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"dropped",
      "category":"cat facts",
      "sg_event_id":"zmzJhfJgAfUSOW80yEbPyw==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "reason":"Bounced Address",
      "status":"5.0.0",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"delivered",
      "category":"cat facts",
      "sg_event_id":"rWVYmVk90MjZJ9iohOBa3w==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "response":"250 OK",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"deferred",
      "category":"cat facts",
      "sg_event_id":"t7LEShmowp86DTdUW8M-GQ==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "response":"400 try again later",
      "attempt":"5",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"bounce",
      "category":"cat facts",
      "sg_event_id":"6g4ZI7SA-xmRDv57GoPIPw==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "reason":"500 unknown recipient",
      "status":"5.0.0",
      "type":"bounce",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"bounce",
      "category":"cat facts",
      "sg_event_id":"6g4ZI7SA-xmRDv57GoPIPw==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "reason":"500 unknown recipient",
      "status":"5.0.0",
      "type":"blocked",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"open",
      "category":"cat facts",
      "sg_event_id":"FOTFFO0ecsBE-zxFXfs6WA==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "useragent":"Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
      "ip":"255.255.255.255",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"click",
      "category":"cat facts",
      "sg_event_id":"kCAi1KttyQdEKHhdC-nuEA==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "useragent":"Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
      "ip":"255.255.255.255",
      "url":"http://www.sendgrid.com/",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"spamreport",
      "category":"cat facts",
      "sg_event_id":"37nvH5QBz858KGVYCM4uOA==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"unsubscribe",
      "category":"cat facts",
      "sg_event_id":"zz_BjPgU_5pS-J8vlfB1sg==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"group_unsubscribe",
      "category":"cat facts",
      "sg_event_id":"ahSCB7xYcXFb-hEaawsPRw==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "useragent":"Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
      "ip":"255.255.255.255",
      "url":"http://www.sendgrid.com/",
      "asm_group_id":10,
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
      "email":"example@test.com",
      "timestamp":1513299569,
      "smtp-id":"<14c5d75ce93.dfd.64b469@ismtpd-555>",
      "event":"group_resubscribe",
      "category":"cat facts",
      "sg_event_id":"w_u0vJhLT-OFfprar5N93g==",
      "sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      "useragent":"Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
      "ip":"255.255.255.255",
      "url":"http://www.sendgrid.com/",
      "asm_group_id":10,
      "nurture_key":"lead-LEAD/1/send-benchmark/1",
      "nurture_lead":"LEAD"
  },
  {
  "sg_event_id":"sendgrid_internal_event_id",
  "sg_message_id":"sendgrid_internal_message_id",
  "ip":"255.255.255.255",
  "useragent":"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
  "event":"click",
  "email":"email@example.com",
  "timestamp":1249948800,
  "url":"http://yourdomain.com/blog/news.html",
  "url_offset": {
    "index": 0,
    "type": "html"
  },
  "unique_arg_key":"unique_arg_value",
  "category":["category1", "category2"],
  "newsletter": {
    "newsletter_user_list_id": "10557865",
    "newsletter_id": "1943530",
    "newsletter_send_id": "2308608"
  },
  "asm_group_id": 1
  }
]`

// docLead is the lead of example@test.com.
var docLead = lead.IDForEmail("example@test.com")

func docEvents(t *testing.T) []sendgrid.Event {
	t.Helper()
	events, err := sendgrid.Parse([]byte(strings.ReplaceAll(docBody, "LEAD", docLead)), sendgrid.Limits{})
	require.NoError(t, err)
	for _, ev := range events {
		require.NoError(t, ev.Err)
	}
	return events
}

func TestParseDocumentedEvents(t *testing.T) {
	t.Parallel()
	events := docEvents(t)
	var kinds []sendgrid.Kind
	for i, ev := range events {
		require.Equal(t, i, ev.Index)
		require.True(t, ev.Kind.Known())
		kinds = append(kinds, ev.Kind)
	}
	require.Equal(t, []sendgrid.Kind{
		sendgrid.Processed, sendgrid.Dropped, sendgrid.Delivered, sendgrid.Deferred, sendgrid.Bounce, sendgrid.Bounce,
		sendgrid.Open, sendgrid.Click, sendgrid.SpamReport, sendgrid.Unsubscribe, sendgrid.GroupUnsubscribe,
		sendgrid.GroupResubscribe, sendgrid.Click,
	}, kinds)

	key := "lead-" + docLead + "/1/send-benchmark/1"
	require.Equal(t, sendgrid.Event{
		Index:       7,
		Kind:        sendgrid.Click,
		Email:       "example@test.com",
		Time:        time.Date(2017, 12, 15, 0, 59, 29, 0, time.UTC),
		SGEventID:   "kCAi1KttyQdEKHhdC-nuEA==",
		SGMessageID: "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
		URL:         "http://www.sendgrid.com/",
		UserAgent:   "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
		IP:          "255.255.255.255",
		SendKey:     key,
		LeadID:      docLead,
	}, events[7])
	require.Equal(t, "bounce", events[4].BounceType)
	require.Equal(t, "500 unknown recipient", events[4].Reason)
	require.Equal(t, "5.0.0", events[4].Status)
	require.Equal(t, "blocked", events[5].BounceType)
	require.Equal(t, "Bounced Address", events[1].Reason)

	// Mail nurture did not send: no unique arguments; SendGrid's others
	// (unique_arg_key) and objects and arrays are ignored.
	require.Equal(t, sendgrid.Event{
		Index:       12,
		Kind:        sendgrid.Click,
		Email:       "email@example.com",
		Time:        time.Unix(1249948800, 0).UTC(),
		SGEventID:   "sendgrid_internal_event_id",
		SGMessageID: "sendgrid_internal_message_id",
		URL:         "http://yourdomain.com/blog/news.html",
		UserAgent:   "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
		IP:          "255.255.255.255",
	}, events[12])
}

func TestParseReportsEachBadElement(t *testing.T) {
	t.Parallel()
	good := `{"email":"ada@analytical.test","timestamp":1795428000,"event":"open","sg_event_id":"b3Blbi0x"}`
	bad := []struct{ element, want string }{
		{`{"email":"ada@analytical.test","timestamp":"1795428000","event":"open","sg_event_id":"x"}`,
			`timestamp: expected a number (seconds since 1970, like 1513299569), got a string`},
		{`"open"`, `expected an object, got a string`},
		{`null`, `expected an object, got null`},
		{`[1,2]`, `expected an object, got an array`},
		{`{"timestamp":1795428000,"event":"open","sg_event_id":"x"}`, `email: missing; every SendGrid event names its recipient`},
		{`{"email":"","timestamp":1795428000,"event":"open","sg_event_id":"x"}`, `email: missing`},
		{`{"email":"a@b.test","event":"open","sg_event_id":"x"}`, `timestamp: missing`},
		{`{"email":"a@b.test","timestamp":1.5,"event":"open","sg_event_id":"x"}`, `timestamp: 1.5: expected whole seconds since 1970`},
		{`{"email":"a@b.test","timestamp":-3,"event":"open","sg_event_id":"x"}`, `timestamp: -3: expected whole seconds`},
		{`{"email":"a@b.test","timestamp":99999999999999,"event":"open","sg_event_id":"x"}`, `timestamp: 99999999999999: expected whole seconds`},
		{`{"email":"a@b.test","timestamp":1795428000,"sg_event_id":"x"}`, `event: missing`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":7}`, `event: expected a string, got a number`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"open"}`, `sg_event_id: missing; it is the ID under which nurture records this open event, once`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"open","sg_event_id":"has space"}`, `sg_event_id: "has space": expected letters, digits and punctuation only`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"open","sg_event_id":"` + strings.Repeat("x", sendgrid.MaxSGEventID+1) + `"}`, `sg_event_id: 120 bytes; at most 119`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"click","sg_event_id":"x","url":"` + strings.Repeat("u", 2001) + `"}`, `url: 2001 bytes; at most 2000`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"click","sg_event_id":"x","url":"http://x/\n"}`, `url: contains the control character U+000A`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"open","sg_event_id":"x","nurture_lead":"ada"}`, `nurture_lead: "ada" is not a lead ID`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"open","sg_event_id":"x","nurture_key":["k"]}`, `nurture_key: expected a string, got an array`},
		{`{"email":"a@b.test","timestamp":1795428000,"event":"open","sg_event_id":"x","sg_machine_open":"yes"}`, `sg_machine_open: expected true or false, got a string`},
		{"{\"email\":\"a@b.test\",\"timestamp\":1795428000,\"event\":\"bounce\",\"type\":\"bounce\",\"sg_event_id\":\"x\",\"reason\":\"550 \xff\"}", `reason: not valid UTF-8`},
		{`{"email":"` + strings.Repeat("a", 250) + `@b.test","timestamp":1795428000,"event":"delivered"}`, `email: 257 bytes; at most 254`},
		// Every problem of an element at once.
		{`{"email":7,"timestamp":"x","event":"click","url":"\u0000"}`,
			`email: expected a string, got a number; timestamp: expected a number (seconds since 1970, like 1513299569), got a string; url: contains the control character U+0000; sg_event_id: missing`},
	}
	elements := []string{good}
	for _, b := range bad {
		elements = append(elements, b.element, good)
	}
	body := "[" + strings.Join(elements, ",") + "]"
	events, err := sendgrid.Parse([]byte(body), sendgrid.Limits{})
	require.NoError(t, err, "bad elements do not refuse the batch")
	require.Len(t, events, 2*len(bad)+1)
	for i, ev := range events {
		require.Equal(t, i, ev.Index)
		if i%2 == 0 {
			require.NoError(t, ev.Err, "event %d", i)
			require.Equal(t, sendgrid.Open, ev.Kind)
			continue
		}
		want := bad[i/2].want
		var ee *sendgrid.ElementError
		require.ErrorAs(t, ev.Err, &ee, "event %d: want %s", i, want)
		require.Equal(t, i, ee.Index)
		require.Contains(t, ev.Err.Error(), fmt.Sprintf("event %d: %s", i, want))
		require.Equal(t, sendgrid.Event{Index: i, Err: ev.Err}, ev, "a bad element carries nothing else")
		act, ok := ev.Map()
		require.False(t, ok)
		require.Equal(t, "not read: "+ev.Err.Error(), act.Note)
	}
	// The example of the brief, exactly.
	require.EqualError(t, events[1].Err, "event 1: timestamp: expected a number (seconds since 1970, like 1513299569), got a string")
}

func TestParseRefusesAnUnreadableBody(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		``:                           "the body is empty",
		"  \r\n":                     "the body is empty",
		`{"event":"open"}`:           "it starts with {, not [",
		`"events"`:                   "it starts with a string, not [",
		`[`:                          "the body ends before the array does",
		`[{"event":"open"}`:          "the body ends before the array does",
		`[{"event":"op`:              "the body ends before the array does",
		`[{"event":"open"},]`:        "event 1: invalid character ']'",
		`[{"event":"open"} {}]`:      "event 1: expected comma after array element",
		`[{"event":"open" "x":1}]`:   "event 0: invalid character",
		`[] []`:                      "[ after the array",
		`[] x`:                       "after the array: invalid character 'x'",
		"[{\"event\":\"open\"}]\x00": "after the array",
		`nope`:                       "invalid character 'o' in literal null",
	} {
		events, err := sendgrid.Parse([]byte(body), sendgrid.Limits{})
		require.ErrorIs(t, err, sendgrid.ErrBody, "%q", body)
		require.ErrorContains(t, err, want, "%q", body)
		require.Nil(t, events)
	}

	// An empty batch is a batch.
	events, err := sendgrid.Parse([]byte("[]\r\n"), sendgrid.Limits{})
	require.NoError(t, err)
	require.Empty(t, events)
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	one := `{"email":"ada@analytical.test","timestamp":1795428000,"event":"processed"}`

	lim := sendgrid.Limits{MaxEvents: 3}
	_, err := sendgrid.Parse([]byte("["+strings.Repeat(one+",", 3)+one+"]"), lim)
	require.ErrorIs(t, err, sendgrid.ErrTooManyEvents)
	require.EqualError(t, err, "more events in one request than the limit: more than 3")
	events, err := sendgrid.Parse([]byte("["+strings.Repeat(one+",", 2)+one+"]"), lim)
	require.NoError(t, err)
	require.Len(t, events, 3)

	body := []byte("[" + one + "]")
	_, err = sendgrid.Parse(body, sendgrid.Limits{MaxBody: len(body) - 1})
	require.ErrorIs(t, err, sendgrid.ErrBodyTooLarge)
	_, err = sendgrid.Parse(body, sendgrid.Limits{MaxBody: len(body)})
	require.NoError(t, err)

	// Text nurture only logs is cut at the limit, never inside a
	// character; what it acts on is refused.
	reason := strings.Repeat("é", 300) // 600 bytes
	events, err = sendgrid.Parse([]byte(`[{"email":"a@b.test","timestamp":1795428000,"event":"bounce","type":"blocked","reason":"`+reason+`","useragent":"`+strings.Repeat("U", 900)+`"}]`), sendgrid.Limits{})
	require.NoError(t, err)
	require.NoError(t, events[0].Err)
	require.Equal(t, strings.Repeat("é", 250), events[0].Reason)
	require.Len(t, events[0].UserAgent, sendgrid.DefaultMaxText)
	events, err = sendgrid.Parse([]byte(`[{"email":"a@b.test","timestamp":1795428000,"event":"bounce","type":"blocked","reason":"`+reason+`"}]`), sendgrid.Limits{MaxText: 5})
	require.NoError(t, err)
	require.Equal(t, "éé", events[0].Reason)
	require.True(t, utf8.ValidString(events[0].Reason))

	require.Equal(t, sendgrid.DefaultLimits(), sendgrid.Limits{}.OrDefaults())
	require.Equal(t, sendgrid.Limits{MaxBody: 10, MaxEvents: 2, MaxURL: lead.MaxPropertyValue, MaxText: lead.MaxPropertyValue},
		sendgrid.Limits{MaxBody: 10, MaxEvents: 2, MaxURL: 1 << 20, MaxText: 1 << 20}.OrDefaults(),
		"a URL or text the lead package would refuse as a property is never read")
}

func TestParseFieldDetails(t *testing.T) {
	t.Parallel()
	parse := func(element string) sendgrid.Event {
		t.Helper()
		events, err := sendgrid.Parse([]byte("["+element+"]"), sendgrid.Limits{})
		require.NoError(t, err)
		require.Len(t, events, 1)
		return events[0]
	}
	// Keys match exactly: encoding/json's case-insensitive matching would
	// take a unique argument "Email" for the recipient.
	ev := parse(`{"email":"ada@analytical.test","Email":"eve@evil.test","EVENT":"spamreport","timestamp":1795428000,"event":"open","sg_event_id":"x"}`)
	require.NoError(t, ev.Err)
	require.Equal(t, "ada@analytical.test", ev.Email)
	require.Equal(t, sendgrid.Open, ev.Kind)

	// null reads as absent; kinds, types and lead IDs are lower-cased.
	ev = parse(`{"email":"ada@analytical.test","timestamp":1795428000,"event":"Bounce","type":"BLOCKED","reason":null,"url":null,"nurture_lead":"127998BF-B371-5E6B-A739-B43AC089FD91","sg_machine_open":null}`)
	require.NoError(t, ev.Err)
	require.Equal(t, sendgrid.Bounce, ev.Kind)
	require.Equal(t, sendgrid.TypeBlocked, ev.BounceType)
	require.Equal(t, "127998bf-b371-5e6b-a739-b43ac089fd91", ev.LeadID)

	// Events of kinds SendGrid may add later are kept, and need no
	// recipient.
	ev = parse(`{"event":"account_status_change","type":"compliance_suspend","timestamp":1795428000,"sg_event_id":"x"}`)
	require.NoError(t, ev.Err)
	require.Equal(t, sendgrid.Kind("account_status_change"), ev.Kind)
	require.False(t, ev.Kind.Known())

	// JSON escapes are text like any other; a lone surrogate becomes
	// U+FFFD, which is valid.
	ev = parse(`{"email":"ada@analytical.test","timestamp":1795428000,"event":"bounce","type":"blocked","reason":"550 \u00e9 \ud800"}`)
	require.NoError(t, ev.Err)
	require.Equal(t, "550 é \uFFFD", ev.Reason)

	ev = parse(`{"email":"ada@analytical.test","timestamp":1795428000,"event":"open","sg_event_id":"x","sg_machine_open":true}`)
	require.True(t, ev.MachineOpen)
}

func TestElementErrorIsAnError(t *testing.T) {
	t.Parallel()
	var err error = &sendgrid.ElementError{Index: 3, Problems: []string{"timestamp: expected a number"}}
	require.EqualError(t, err, "event 3: timestamp: expected a number")
	var ee *sendgrid.ElementError
	require.True(t, errors.As(fmt.Errorf("wrapped: %w", err), &ee))
}
