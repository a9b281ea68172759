// Package lead is the vocabulary shared by every part of nurture: who a lead
// is (its profile) and what it did (engagement events of known types).
//
// A lead's ID is derived from its e-mail address (a name-based UUID), so a
// webhook that only knows an address finds the same lead, and the same
// workflow, as the form that enrolled it, without a lookup.
package lead

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/nurture-dev/nurture/zones"
)

// namespace scopes lead IDs so they never collide with other name-based UUIDs.
var namespace = uuid.MustParse("6b1d2f3c-9a57-4f0e-8d8e-1c6f1a1e2b77")

// IDForEmail returns the lead ID for an address; case and surrounding space
// do not matter.
func IDForEmail(email string) string {
	return uuid.NewSHA1(namespace, []byte(NormalizeEmail(email))).String()
}

// NormalizeEmail lower-cases and trims an address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Profile is what a lead told us about itself (explicit data).
type Profile struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Company   string `json:"company,omitempty"`
	Title     string `json:"title,omitempty"`
	// TimeZone is an IANA name; sends are windowed in it.
	TimeZone string `json:"time_zone,omitempty"`
	// Source is where the lead came from (form, webinar, import, ...).
	Source string `json:"source,omitempty"`
	// ExternalID is the lead's ID in the CRM, when it has one; events and
	// verdicts from the CRM may name the lead by it.
	ExternalID string `json:"external_id,omitempty"`
	// Fields holds the rest of the profile: department, role, revenue,
	// employees, country, industry, BANT answers, persona.
	Fields map[string]string `json:"fields,omitempty"`
}

// Size limits. They are checked before anything is stored or signalled:
// a lead's profile travels in every workflow message about it and in the
// state its journey carries for months, so it must stay small; and a value
// no mail server or CRM would take must be refused at the door, not fail a
// send forever later.
const (
	// MaxEmail is RFC 5321's limit on a forward path.
	MaxEmail = 254
	// MaxText bounds names, company, title and source.
	MaxText = 200
	// MaxFields bounds the number of extra profile fields, MaxFieldName
	// and MaxFieldValue their size.
	MaxFields     = 50
	MaxFieldName  = 64
	MaxFieldValue = 1000
	// MaxEventID bounds a sender's event ID (a UUID is 36).
	MaxEventID = 128
	// MaxProperties bounds an event's properties, MaxPropertyValue each
	// value (a URL with its query fits).
	MaxProperties    = 50
	MaxPropertyValue = 2000
)

// Normalize fills the ID from the address and checks what must be there,
// reporting every problem at once.
func (p *Profile) Normalize() error {
	p.Email = NormalizeEmail(p.Email)
	var errs []error
	switch {
	case p.Email == "":
		errs = append(errs, errors.New("lead e-mail is required"))
	case len(p.Email) > MaxEmail:
		errs = append(errs, fmt.Errorf("lead e-mail is %d characters; at most %d", len(p.Email), MaxEmail))
	default:
		addr, err := mail.ParseAddress(p.Email)
		if err != nil || addr.Address != p.Email {
			errs = append(errs, fmt.Errorf("lead e-mail %q is not a valid address", p.Email))
		} else if id := IDForEmail(p.Email); p.ID != "" && p.ID != id {
			errs = append(errs, fmt.Errorf("lead ID %q does not belong to %s (expected %s)", p.ID, p.Email, id))
		} else {
			p.ID = id
		}
	}
	for _, f := range []struct{ name, value string }{
		{"first_name", p.FirstName}, {"last_name", p.LastName}, {"company", p.Company}, {"title", p.Title}, {"source", p.Source},
		{"external_id", p.ExternalID},
	} {
		if err := checkText(f.name, f.value, MaxText); err != nil {
			errs = append(errs, err)
		}
	}
	// An empty zone stays empty: the journey's time_zone applies then,
	// and a profile update that does not name a zone keeps the one known.
	if len(p.TimeZone) > 64 {
		errs = append(errs, fmt.Errorf("lead time zone is %d characters; zone names are short, like Europe/Berlin", len(p.TimeZone)))
	} else if _, err := zones.Load(p.TimeZone); err != nil {
		errs = append(errs, fmt.Errorf("lead time zone %q is not an IANA zone name (like Europe/Berlin)", p.TimeZone))
	}
	errs = append(errs, checkMap("profile field", p.Fields, MaxFields, MaxFieldValue)...)
	return errors.Join(errs...)
}

// checkText refuses text too long or not UTF-8 (it would break mail
// headers and JSON alike).
func checkText(name, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%s is %d bytes; at most %d", name, len(v), limit)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%s contains a line break or NUL, which headers cannot carry", name)
	}
	return nil
}

func checkMap(what string, m map[string]string, maxKeys, maxValue int) []error {
	var errs []error
	if len(m) > maxKeys {
		errs = append(errs, fmt.Errorf("%d %ss; at most %d", len(m), what, maxKeys))
		return errs
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch {
		case k == "" || len(k) > MaxFieldName:
			errs = append(errs, fmt.Errorf("%s name %.40q: use 1 to %d characters", what, k, MaxFieldName))
		case !utf8.ValidString(k) || !utf8.ValidString(m[k]):
			errs = append(errs, fmt.Errorf("%s %.40q is not valid UTF-8", what, k))
		case len(m[k]) > maxValue:
			errs = append(errs, fmt.Errorf("%s %q is %d bytes; at most %d", what, k, len(m[k]), maxValue))
		}
	}
	return errs
}

// Name is the lead's full name, "First Last", or the one part known; ""
// when neither is (callers say the address instead).
func (p Profile) Name() string { return strings.TrimSpace(p.FirstName + " " + p.LastName) }

// Field returns a profile value by name, covering the named fields too, so a
// journey condition can say "title" or "industry" alike.
func (p Profile) Field(name string) string {
	switch name {
	case "email":
		return p.Email
	case "first_name":
		return p.FirstName
	case "last_name":
		return p.LastName
	case "company":
		return p.Company
	case "title":
		return p.Title
	case "time_zone":
		return p.TimeZone
	case "source":
		return p.Source
	case "external_id":
		return p.ExternalID
	}
	return p.Fields[name]
}

// DataOwner says whose personal data a profile is (package codec seals it
// with the lead's own key).
func (p Profile) DataOwner() string { return p.ID }

// WorkflowID is the Temporal workflow ID of a lead's journey: one a lead,
// so a second enrolment finds the first.
func WorkflowID(leadID string) string { return workflowPrefix + leadID }

// OfWorkflow is the lead whose journey a workflow ID names.
func OfWorkflow(workflowID string) (string, bool) {
	return strings.CutPrefix(workflowID, workflowPrefix)
}

const workflowPrefix = "lead-"

type callKey struct{}

// WithID marks a context as a call about one lead (a signal, an update or
// a query of its journey), so what the call carries is sealed with the
// lead's own key (package codec).
func WithID(ctx context.Context, leadID string) context.Context {
	return context.WithValue(ctx, callKey{}, leadID)
}

// IDFrom is the lead a context is about (see WithID).
func IDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(callKey{}).(string)
	return id, ok && id != ""
}
