package email

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

// SendGrid is the EMAIL_PROVIDER value for SendGrid's SMTP relay.
const SendGrid = "sendgrid"

// The unique arguments nurture gives SendGrid; its event webhook posts
// them back as top-level fields of every event of the message.
const (
	SendGridKeyArg  = "nurture_key"
	SendGridLeadArg = "nurture_lead"
)

// HeaderSMTPAPI is SendGrid's SMTP API header, which SendGrid reads and
// strips before delivery.
const HeaderSMTPAPI = "X-SMTPAPI"

// ProviderHeaders are the headers a provider needs to tie its events (a
// delivery, a bounce, an open) to the send they are about: the send's
// idempotency key and its lead. None for no provider.
//
// SendGrid: X-SMTPAPI with {"unique_args": {...}}, string values only, at
// most 10,000 bytes, one such header per message; the event webhook
// returns the arguments with each event. See "Unique Arguments"
// (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/unique-arguments)
// and "Building an X-SMTPAPI Header"
// (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/building-an-x-smtpapi-header).
// The JSON is compact and pure ASCII (\u escapes), so no encoded word or
// folding inside it can make it unreadable.
func ProviderHeaders(provider, sendKey, leadID string) (map[string]string, error) {
	switch provider {
	case "":
		return nil, nil
	case SendGrid:
		v, err := json.Marshal(struct {
			UniqueArgs map[string]string `json:"unique_args"`
		}{map[string]string{SendGridKeyArg: sendKey, SendGridLeadArg: leadID}})
		if err != nil {
			return nil, fmt.Errorf("sendgrid header: %w", err)
		}
		if len(v) > 10000 {
			return nil, fmt.Errorf("sendgrid header: %d bytes of unique arguments, at most 10,000", len(v))
		}
		return map[string]string{HeaderSMTPAPI: asciiJSON(string(v))}, nil
	default:
		return nil, fmt.Errorf("email provider %q: leave it empty or use %s", provider, SendGrid)
	}
}

// asciiJSON escapes every non-ASCII character of a JSON text as \uXXXX
// (a surrogate pair past U+FFFF), which JSON allows wherever such a
// character can be: inside strings.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
