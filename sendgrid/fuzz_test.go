package sendgrid_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/sendgrid"
)

// FuzzParse: no body, however made, panics Parse or Map; a body is
// refused only with one of the three body errors; every event it returns
// is within the limits (small ones here, so that the fuzzer reaches them),
// a bad one carries nothing but its index and error, and every lead event
// Map makes passes the lead package's own checks.
// go test ./sendgrid -run '^$' -fuzz FuzzParse -fuzztime 30s
func FuzzParse(f *testing.F) {
	f.Add([]byte(strings.ReplaceAll(docBody, "LEAD", docLead)))
	f.Add([]byte(vectorBody))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"email":"a@b.test","timestamp":1795428000,"event":"click","sg_event_id":"x","url":"http://x/","nurture_key":"k","nurture_lead":"127998bf-b371-5e6b-a739-b43ac089fd91","sg_machine_open":false}]`))
	f.Add([]byte(`[{"email":"a@b.test","timestamp":"1","event":"bounce","type":"bounce","reason":"\u00e9\ud800"},null,7,"x",{"event":"dropped","reason":"Bounced Address","email":"a@b.test","timestamp":1}]`))
	f.Add([]byte("[{\"email\":\"a@b.test\",\"timestamp\":1,\"event\":\"open\",\"sg_event_id\":\"x\",\"useragent\":\"\xff\"}]"))
	f.Add([]byte(`[{"event":"open"}`))
	f.Add([]byte(`{"event":"open"}`))
	lim := sendgrid.Limits{MaxBody: 1 << 16, MaxEvents: 20, MaxURL: 60, MaxText: 40}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := sendgrid.Parse(body, lim)
		if err != nil {
			if !errors.Is(err, sendgrid.ErrBody) && !errors.Is(err, sendgrid.ErrBodyTooLarge) && !errors.Is(err, sendgrid.ErrTooManyEvents) {
				t.Fatalf("an error of no known kind: %v", err)
			}
			if events != nil {
				t.Fatalf("events with an error")
			}
			return
		}
		if len(events) > lim.MaxEvents {
			t.Fatalf("%d events; at most %d", len(events), lim.MaxEvents)
		}
		for i, ev := range events {
			if ev.Index != i {
				t.Fatalf("event %d has index %d", i, ev.Index)
			}
			if ev.Err != nil {
				var ee *sendgrid.ElementError
				if !errors.As(ev.Err, &ee) || ee.Index != i || len(ee.Problems) == 0 {
					t.Fatalf("event %d: %v is not an ElementError of it", i, ev.Err)
				}
				if (ev != sendgrid.Event{Index: i, Err: ev.Err}) {
					t.Fatalf("bad event %d carries fields: %+v", i, ev)
				}
			} else {
				for _, f := range []struct {
					name, v string
					max     int
				}{
					{"kind", string(ev.Kind), 64}, {"email", ev.Email, lead.MaxEmail},
					{"sg_event_id", ev.SGEventID, sendgrid.MaxSGEventID}, {"url", ev.URL, lim.MaxURL},
					{"type", ev.BounceType, 64}, {"nurture_key", ev.SendKey, lim.MaxText}, {"nurture_lead", ev.LeadID, 36},
					{"sg_message_id", ev.SGMessageID, lim.MaxText}, {"reason", ev.Reason, lim.MaxText},
					{"status", ev.Status, lim.MaxText}, {"useragent", ev.UserAgent, lim.MaxText}, {"ip", ev.IP, lim.MaxText},
				} {
					if len(f.v) > f.max || !utf8.ValidString(f.v) {
						t.Fatalf("event %d: %s %q is over %d bytes or not UTF-8", i, f.name, f.v, f.max)
					}
				}
				if ev.Kind.Known() && (ev.Email == "" || ev.Time.IsZero()) {
					t.Fatalf("event %d: a %s without recipient or time", i, ev.Kind)
				}
			}
			act, ok := ev.Map()
			if act.Note == "" {
				t.Fatalf("event %d: no note", i)
			}
			if ok != (act.Event.Type != "" || act.Suppress != "" || act.Delivered != "") {
				t.Fatalf("event %d: ok %v for %+v", i, ok, act)
			}
			if act.Event.Type != "" {
				if err := act.Event.Validate(); err != nil {
					t.Fatalf("event %d maps to a lead event the lead package refuses: %v", i, err)
				}
			}
			switch act.Suppress {
			case "", lead.HardBounce, lead.SpamComplaint, lead.Unsubscribe:
			default:
				t.Fatalf("event %d: suppressed for %q", i, act.Suppress)
			}
		}
	})
}

// FuzzVerify: no signature or timestamp, however made, panics Verify, and
// none but SendGrid's own timestamp and body pass with its key (a
// signature may be spelled another way: ECDSA signatures are malleable,
// and base64 skips line breaks). Every refusal is a *VerifyError.
// go test ./sendgrid -run '^$' -fuzz FuzzVerify -fuzztime 30s
func FuzzVerify(f *testing.F) {
	key, err := sendgrid.ParsePublicKey(vectorKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vectorSignature, vectorTimestamp, []byte(vectorBody))
	f.Add(vectorSignature, "1600112501", []byte(vectorBody))
	f.Add("", "", []byte(nil))
	f.Add("MEUCIQ==", "1600112502", []byte("[]"))
	f.Add(strings.Repeat("=", 300), "99999999999", []byte("x"))
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		err := sendgrid.Verify(key, sig, ts, body, vectorNow, window)
		if err == nil {
			if ts != vectorTimestamp || string(body) != vectorBody {
				t.Fatalf("a forgery passed: signature %q, timestamp %q, body %q", sig, ts, body)
			}
			return
		}
		var ve *sendgrid.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("not a *VerifyError: %v", err)
		}
	})
}
