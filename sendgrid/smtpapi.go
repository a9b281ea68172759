package sendgrid

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

// The unique arguments nurture sets on every email it sends through
// SendGrid; SendGrid copies them into each event about the email, as
// top-level fields. SendGrid stores them as data that is not personal, so
// they name the send and the lead by ID, never by address.
const (
	// ArgSendKey is the send's idempotency key (store.Send.Key).
	ArgSendKey = "nurture_key"
	// ArgLead is the lead's ID.
	ArgLead = "nurture_lead"
)

// SMTPAPIHeader is the header that carries SendGrid settings in mail sent
// through its SMTP relay.
const SMTPAPIHeader = "X-SMTPAPI"

// SMTPAPI returns the value of the X-SMTPAPI header that makes SendGrid
// name a send and its lead in every event about it:
// {"unique_args":{"nurture_key":"...","nurture_lead":"..."}}. A header is
// ASCII, so any other character is escaped as JSON allows (\u00e9).
func SMTPAPI(sendKey, leadID string) string {
	b, err := json.Marshal(struct {
		UniqueArgs map[string]string `json:"unique_args"`
	}{map[string]string{ArgSendKey: sendKey, ArgLead: leadID}})
	if err != nil {
		panic(err) // strings always marshal
	}
	var out strings.Builder
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			out.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
	}
	return out.String()
}
