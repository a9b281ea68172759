package lead

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// EventType names one kind of engagement.
type EventType string

// The engagement vocabulary. Journeys and scoring models may only name these,
// so a typo in a journey file is caught when it is validated, not months
// later when the event never matches.
const (
	PageView           EventType = "page_view"
	PricingPageView    EventType = "pricing_page_view"
	EmailOpen          EventType = "email_open"
	EmailClick         EventType = "email_click"
	NewsletterSignup   EventType = "newsletter_signup"
	WhitepaperDownload EventType = "whitepaper_download"
	WebinarSignup      EventType = "webinar_signup"
	WebinarAttended    EventType = "webinar_attended"
	SeminarSignup      EventType = "seminar_signup"
	ContactForm        EventType = "contact_form"
	DemoRequest        EventType = "demo_request"
	BuyingGuide        EventType = "buying_guide_download"
	CaseStudyView      EventType = "case_study_view"
	ProductVideoView   EventType = "product_video_view"
	Unsubscribe        EventType = "unsubscribe"
	HardBounce         EventType = "hard_bounce"
	SpamComplaint      EventType = "spam_complaint"
	NotInterested      EventType = "not_interested"
	// What a CRM reports when sales has moved the lead on: the goals a
	// journey may end on.
	OpportunityCreated EventType = "opportunity_created"
	CustomerWon        EventType = "customer_won"
)

var known = map[EventType]string{
	PageView:           "a page on our website was viewed",
	PricingPageView:    "the pricing page was viewed",
	EmailOpen:          "one of our emails was opened",
	EmailClick:         "a link in one of our emails was clicked",
	NewsletterSignup:   "signed up for the newsletter",
	WhitepaperDownload: "downloaded a whitepaper or report",
	WebinarSignup:      "signed up for a webinar",
	WebinarAttended:    "attended a webinar",
	SeminarSignup:      "signed up for a seminar",
	ContactForm:        "sent the contact form",
	DemoRequest:        "requested a demo",
	BuyingGuide:        "downloaded the buying guide",
	CaseStudyView:      "read a case study",
	ProductVideoView:   "watched a product video",
	Unsubscribe:        "unsubscribed",
	HardBounce:         "an email hard-bounced",
	SpamComplaint:      "marked an email as spam",
	NotInterested:      "replied that they are not interested",
	OpportunityCreated: "the CRM opened an opportunity for the lead",
	CustomerWon:        "the lead became a customer",
}

// Known reports whether t is in the vocabulary.
func (t EventType) Known() bool { _, ok := known[t]; return ok }

// Describe says in words what the event means.
func (t EventType) Describe() string { return known[t] }

// KnownEventTypes lists the vocabulary in alphabetical order.
func KnownEventTypes() []EventType {
	out := make([]EventType, 0, len(known))
	for t := range known {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// KnownEventTypeList is the vocabulary as one comma-separated string, for
// error messages that say what would be right.
func KnownEventTypeList() string {
	names := make([]string, 0, len(known))
	for _, t := range KnownEventTypes() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

// Event is one engagement of one lead. ID is the sender's own event ID: the
// same event delivered twice has the same ID and counts once.
type Event struct {
	ID         string            `json:"id"`
	LeadID     string            `json:"lead_id"`
	Type       EventType         `json:"type"`
	OccurredAt time.Time         `json:"occurred_at"`
	Source     string            `json:"source,omitempty"`
	Properties map[string]string `json:"properties,omitempty"`
}

// Validate says what is wrong with an event, all at once.
func (e Event) Validate() error {
	var errs []error
	if strings.TrimSpace(e.ID) == "" {
		errs = append(errs, errors.New("event id is required (the sender's own ID, so a retried delivery counts once)"))
	} else if err := checkText("event id", e.ID, MaxEventID); err != nil {
		errs = append(errs, err)
	}
	if err := checkText("event source", e.Source, MaxText); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkMap("event property", e.Properties, MaxProperties, MaxPropertyValue)...)
	if e.LeadID == "" {
		errs = append(errs, errors.New("event lead is required"))
	}
	if !e.Type.Known() {
		errs = append(errs, fmt.Errorf("event type %q is unknown; known types: %s", e.Type, KnownEventTypeList()))
	}
	if e.OccurredAt.IsZero() {
		errs = append(errs, errors.New("event time is required"))
	}
	return errors.Join(errs...)
}

// DataOwner says whose personal data an event is (package codec seals it
// with the lead's own key): its properties may hold what a person typed.
func (e Event) DataOwner() string { return e.LeadID }
