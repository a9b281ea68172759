// Package lead is the vocabulary shared by every part of nurture: who a lead
// is (its profile) and what it did (engagement events of known types).
//
// A lead's ID is derived from its e-mail address (a name-based UUID), so a
// webhook that only knows an address finds the same lead, and the same
// workflow, as the form that enrolled it, without a lookup.
package lead

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"

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
	// Fields holds the rest of the profile: department, role, revenue,
	// employees, country, industry, BANT answers, persona.
	Fields map[string]string `json:"fields,omitempty"`
}

// Normalize fills the ID from the address and checks what must be there.
func (p *Profile) Normalize() error {
	p.Email = NormalizeEmail(p.Email)
	if p.Email == "" {
		return errors.New("lead e-mail is required")
	}
	addr, err := mail.ParseAddress(p.Email)
	if err != nil || addr.Address != p.Email {
		return fmt.Errorf("lead e-mail %q is not a valid address", p.Email)
	}
	id := IDForEmail(p.Email)
	if p.ID != "" && p.ID != id {
		return fmt.Errorf("lead ID %q does not belong to %s (expected %s)", p.ID, p.Email, id)
	}
	p.ID = id
	// An empty zone stays empty: the journey's time_zone applies then,
	// and a profile update that does not name a zone keeps the one known.
	if _, err := zones.Load(p.TimeZone); err != nil {
		return fmt.Errorf("lead time zone %q is not an IANA zone name (like Europe/Berlin)", p.TimeZone)
	}
	return nil
}

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
	}
	return p.Fields[name]
}
