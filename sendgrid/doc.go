// Package sendgrid reads SendGrid's Event Webhook: it checks that a request
// was signed by SendGrid (Verify), reads its batch of events within fixed
// limits (Parse), and says what nurture does with each event (Event.Map).
// It does no I/O: the HTTP handler stores, suppresses and signals.
//
// Why SendGrid: it is the most used email service provider that signs its
// event webhook with a public-key signature (ECDSA P-256 over the
// timestamp and the raw body), so the receiver holds no shared secret that
// could sign events if it leaked, and the same check works for every
// account.
//
// The path of one request, as the handler is meant to take it:
//
//	body := the raw request body, at most Limits.MaxBody bytes
//	Verify(key, r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), body, now, window)
//	    → a *VerifyError: answer 401 with its message; SendGrid retries
//	events, err := Parse(body, limits)
//	    → err: the body as a whole is unreadable (400), or too large (413)
//	for each event: ev.Err != nil → log it and go on (a retry would fail
//	the same way); else action, ok := ev.Map() and, when ok:
//	    action.Delivered → store.MarkProviderDelivered(key)
//	    action.Suppress  → store.Suppress(action.Email, string(action.Suppress))
//	    action.Event     → ingest (store the event, signal the journey)
//	answer 2xx only when everything that had to be done was done
//
// SendGrid posts a JSON array of events, batched per server every 30
// seconds or at 768 KB, and retries the whole batch on any answer other
// than 2xx for up to 24 hours; the same event may also arrive twice. So
// one malformed element does not refuse the batch, and every action is
// idempotent: lead events carry SendGrid's event ID, marking a send
// delivered and suppressing an address twice change nothing.
//
// nurture names its sends in the events: every email sent through
// SendGrid carries the unique arguments nurture_key (the send's
// idempotency key) and nurture_lead (the lead's ID) in its X-SMTPAPI
// header (see SMTPAPI), and SendGrid copies them into each event about it
// as top-level fields.
//
// References: SendGrid's "Event Webhook Reference" and "Getting Started
// with the Event Webhook Security Features" (github.com/sendgrid/docs,
// content/docs/for-developers/tracking-events/event.md and
// getting-started-event-webhook-security-features.md; now at
// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/).
package sendgrid
