package sendgrid

import (
	"fmt"
	"strings"

	"github.com/nurture-dev/nurture/lead"
)

// Source is the source of every lead event made from a SendGrid event.
const Source = "sendgrid"

// Action is what nurture does with one SendGrid event: plain data, for
// the handler to carry out. Any of Delivered, Suppress and Event may be
// set; each is idempotent.
type Action struct {
	// Delivered, when not empty, is the key of a send that reached the
	// receiving server: store.MarkProviderDelivered, which also settles
	// a send left ambiguous.
	Delivered string
	// Suppress, when not empty, stops all mail to Email:
	// store.Suppress(ctx, db, Email, string(Suppress)). It is one of
	// lead.HardBounce, lead.SpamComplaint and lead.Unsubscribe, the
	// reasons ingest suppresses for too; it is set even when Event is,
	// so that an address is suppressed when its lead is unknown to
	// nurture and the event cannot be recorded.
	Suppress lead.EventType
	// Email is the recipient, normalized as the lead package does.
	Email string
	// Event, when Event.Type is not empty, is the engagement to record
	// for the lead and deliver to its journey (ingest). Its ID is
	// EventIDPrefix + sg_event_id, its lead nurture_lead or else the
	// lead of Email, and it passes lead.Event.Validate.
	Event lead.Event
	// Note says what the event means for nurture, for the log; it is set
	// for every event, those that need nothing too. It names no address.
	Note string
}

// dropReasons are the reasons SendGrid gives for dropping a message to an
// address already on one of its suppression lists, and the suppression
// each means for nurture. SendGrid's Event Webhook Reference lists the
// drop reasons "Invalid SMTPAPI header, Spam Content (if Spam Checker app
// is enabled), Unsubscribed Address, Bounced Address, Spam Reporting
// Address, Invalid, Recipient List over Package Quota", and its glossary
// entry "Drops" says which list each of the three below stands for
// (github.com/sendgrid/docs: content/docs/for-developers/tracking-events/
// event.md, source/Glossary/drops.md). A reason is matched when it
// contains the phrase, in any case. "Invalid" (an address SendGrid found
// malformed or nonexistent) is not among them: it is not one of the
// three, and is logged only.
var dropReasons = []struct {
	phrase string
	reason lead.EventType
}{
	{"bounced address", lead.HardBounce},
	{"spam reporting address", lead.SpamComplaint},
	{"unsubscribed address", lead.Unsubscribe},
}

// dropSuppression returns the suppression a drop reason means, or "".
func dropSuppression(reason string) lead.EventType {
	r := strings.ToLower(reason)
	for _, d := range dropReasons {
		if strings.Contains(r, d.phrase) {
			return d.reason
		}
	}
	return ""
}

// leadEventType is the lead event an event becomes, or "".
func (e Event) leadEventType() lead.EventType {
	switch e.Kind {
	case Open:
		return lead.EmailOpen
	case Click:
		return lead.EmailClick
	case Bounce:
		if e.BounceType == TypeBounce {
			return lead.HardBounce
		}
	case SpamReport:
		return lead.SpamComplaint
	case Unsubscribe, GroupUnsubscribe:
		return lead.Unsubscribe
	}
	return ""
}

// Map says what nurture does with the event; ok is false when it does
// nothing (the Note says why, for the log):
//
//	delivered                  mark the send (nurture_key) delivered
//	open                       email_open
//	click                      email_click, with the url
//	bounce, type "bounce"      hard_bounce, and suppress the address
//	bounce, type "blocked"     nothing: a soft bounce, SendGrid retries
//	dropped, address on a list suppress (see dropReasons)
//	spamreport                 spam_complaint, and suppress
//	unsubscribe, group_unsub.  unsubscribe, and suppress
//	processed, deferred,
//	group_resubscribe, others  nothing
//
// A group resubscribe does not lift a suppression: nurture knows one list
// of addresses it may not mail, and only a new enrolment clears it.
func (e Event) Map() (Action, bool) {
	a := Action{Email: lead.NormalizeEmail(e.Email)}
	if e.Err != nil {
		a.Note = "not read: " + e.Err.Error()
		return a, false
	}
	if t := e.leadEventType(); t != "" {
		a.Event = e.leadEvent(t)
		if t == lead.HardBounce || t == lead.SpamComplaint || t == lead.Unsubscribe {
			a.Suppress = t
		}
	}
	switch e.Kind {
	case Delivered:
		if e.SendKey == "" {
			a.Note = "delivered, but the email carries no " + ArgSendKey + ": not one nurture sent"
			return a, false
		}
		a.Delivered = e.SendKey
		a.Note = "delivered to the receiving server: the send is marked delivered"
	case Open:
		a.Note = "the email was opened"
		if e.MachineOpen {
			a.Note += " (SendGrid reports a machine open: a mail privacy proxy fetching images, likely not a person)"
		}
	case Click:
		a.Note = "a link in the email was clicked"
	case Bounce:
		switch e.BounceType {
		case TypeBounce:
			a.Note = "hard bounce" + status(e) + ": the address is suppressed"
		case TypeBlocked:
			a.Note = "blocked for now by the receiving server" + status(e) + ": a soft bounce, nothing done"
			return a, false
		default:
			a.Note = fmt.Sprintf("a bounce of type %q, neither %q nor %q: nothing done", e.BounceType, TypeBounce, TypeBlocked)
			return a, false
		}
	case Dropped:
		a.Suppress = dropSuppression(e.Reason)
		if a.Suppress == "" {
			a.Note = fmt.Sprintf("dropped by SendGrid (%.80q): nothing done", e.Reason)
			return a, false
		}
		a.Note = fmt.Sprintf("dropped by SendGrid (%.80q), the address being on its suppression list: the address is suppressed (%s)", e.Reason, a.Suppress)
	case SpamReport:
		a.Note = "marked as spam: the address is suppressed"
	case Unsubscribe, GroupUnsubscribe:
		a.Note = "unsubscribed through SendGrid (" + string(e.Kind) + "): the address is suppressed"
	case Processed, Deferred, GroupResubscribe:
		a.Note = string(e.Kind) + ": nothing to do"
		return a, false
	default:
		a.Note = fmt.Sprintf("event %q is not one nurture knows: nothing done", e.Kind)
		return a, false
	}
	return a, true
}

func status(e Event) string {
	if e.Status == "" {
		return ""
	}
	return fmt.Sprintf(" (status %.20q)", e.Status)
}

func (e Event) leadEvent(t lead.EventType) lead.Event {
	leadID := e.LeadID
	if leadID == "" {
		leadID = lead.IDForEmail(e.Email)
	}
	props := map[string]string{"sg_event_id": e.SGEventID}
	if e.Kind == Click {
		props["url"] = e.URL
	}
	if e.SendKey != "" {
		// The send names the content: sends.content_id.
		props["send_key"] = e.SendKey
	}
	if e.MachineOpen && e.Kind == Open {
		props["machine_open"] = "true"
	}
	return lead.Event{
		ID:         EventIDPrefix + e.SGEventID,
		LeadID:     leadID,
		Type:       t,
		OccurredAt: e.Time,
		Source:     Source,
		Properties: props,
	}
}
