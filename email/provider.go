package email

import (
	"fmt"

	"github.com/nurture-dev/nurture/sendgrid"
)

// SendGrid is the EMAIL_PROVIDER value for SendGrid's SMTP relay.
const SendGrid = "sendgrid"

// ProviderHeaders are the headers a provider needs to tie its events (a
// delivery, a bounce, an open) to the send they are about: the send's
// idempotency key and its lead. None for no provider.
//
// SendGrid: X-SMTPAPI with {"unique_args": {...}} (package sendgrid owns
// the format, since it reads the arguments back): string values only, at
// most 10,000 bytes, one such header per message; the event webhook
// returns the arguments with each event. See "Unique Arguments"
// (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/unique-arguments)
// and "Building an X-SMTPAPI Header"
// (https://www.twilio.com/docs/sendgrid/for-developers/sending-email/building-an-x-smtpapi-header).
func ProviderHeaders(provider, sendKey, leadID string) (map[string]string, error) {
	switch provider {
	case "":
		return nil, nil
	case SendGrid:
		v := sendgrid.SMTPAPI(sendKey, leadID)
		if len(v) > 10000 {
			return nil, fmt.Errorf("sendgrid header: %d bytes of unique arguments, at most 10,000", len(v))
		}
		return map[string]string{sendgrid.SMTPAPIHeader: v}, nil
	default:
		return nil, fmt.Errorf("email provider %q: leave it empty or use %s", provider, SendGrid)
	}
}
