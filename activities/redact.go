package activities

import (
	"errors"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// theAddress stands for a lead's address in an error Temporal keeps.
const theAddress = "<the lead's address>"

// redact takes a lead's address out of an error's message before Temporal
// records it: an SMTP server's refusal quotes the recipient ("550 5.1.1
// <ada@...>: user unknown"), and failure messages are sealed with the
// payload key, not the lead's own, so they would outlive its erasure.
// Application errors are nurture's own words, which name no address.
func redact(err error, address string) error {
	var app *temporal.ApplicationError
	if err == nil || address == "" || errors.As(err, &app) || !strings.Contains(err.Error(), address) {
		return err
	}
	// Not wrapped: Temporal records a wrapped error's causes too.
	return errors.New(strings.ReplaceAll(err.Error(), address, theAddress))
}
