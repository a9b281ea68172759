package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/nurture-dev/nurture/store"
)

// DomainLimit is the per-recipient-domain send limit (SEND_RATE_PER_DOMAIN):
// at most Sends journey emails to one domain in each window of Per, across
// every worker. Zero Sends is no limit.
//
// Why this design. Mail providers throttle or junk a sender that hits one
// domain with thousands of messages at once (a journey's send window opens
// at 09:00 for every lead on gmail.com), so the limit is per recipient
// domain, and it must hold however many workers send, so it lives in
// PostgreSQL, which every worker shares: a fixed window, one row per domain,
// one upsert per send. A send over the limit does not spin: it reserves a
// slot in the earliest window with room and its activity fails with a
// retryable ErrTypeHeld error whose NextRetryDelay is the start of that
// window, so Temporal keeps it (durably, through restarts) and tries it once
// more then. A retry through the rate-limited send queue (SEND_RATE) spends
// a task of that queue's rate, so retrying every window until one has room
// would crowd out the sends that could go; holding a reservation makes it
// one retry per held send. The reservation is kept by the send's idempotency
// key, so a retry keeps its slot; delivery.Send's row per key keeps a
// retried send from mailing twice. A fixed window can let 2×Sends through
// across a window's edge; providers count in minutes and hours, which is
// what the limit is set in, so that is accepted for one row per domain.
// Workers' clocks decide the window: keep them in sync (NTP), as Temporal
// needs anyway.
type DomainLimit struct {
	Sends int
	Per   time.Duration
}

// slot reserves the send's slot among the sends to its recipient's domain
// and holds the send back (ErrTypeHeld, retried at the slot's window) until
// that window comes. now is the activity's time.
func (a *Activities) slot(ctx context.Context, req SendRequest, now time.Time) error {
	limit := a.DomainLimit
	if limit.Sends <= 0 {
		return nil
	}
	if limit.Per <= 0 {
		limit.Per = time.Minute
	}
	domain := RecipientDomain(req.Lead.Email)
	start, err := store.ReserveDomainSlot(ctx, a.DB, req.Key, domain, now, limit.Sends, limit.Per)
	if err != nil {
		return err
	}
	wait := start.Sub(now)
	if wait <= 0 {
		return nil
	}
	return heldError(fmt.Sprintf("%d emails to %s a %s have gone or are booked; the send waits for its slot at %s", limit.Sends, domain, limit.Per, start.Format(time.RFC3339)), wait)
}

// heldError holds a send back: retryable, after wait when it is set (else
// as the retry policy says), and benign, so the Temporal SDK neither logs
// it as an error nor counts it as a failed activity.
func heldError(msg string, wait time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(msg, ErrTypeHeld,
		temporal.ApplicationErrorOptions{NextRetryDelay: wait, Category: temporal.ApplicationErrorCategoryBenign})
}

// RecipientDomain is the domain an address's mail goes to, lower case:
// what receiving mail servers count a sender's messages by.
func RecipientDomain(address string) string {
	at := strings.LastIndexByte(address, '@')
	return strings.ToLower(strings.TrimSpace(address[at+1:]))
}
