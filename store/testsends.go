package store

import (
	"context"
	"fmt"
)

// TestSend is a content item mailed as a test (starter test-send).
type TestSend struct {
	JourneyID, ContentID, Persona string
	To, Subject, MessageID        string
	// Status is sent or failed; Error says why it failed.
	Status, Error string
}

// RecordTestSend keeps a test send apart from the journeys' sends.
func RecordTestSend(ctx context.Context, db DB, t TestSend) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `
insert into test_sends (journey_id, content_id, persona, to_address, subject, message_id, status, error)
values ($1, $2, $3, $4, $5, $6, $7, $8) returning id`,
		t.JourneyID, t.ContentID, t.Persona, t.To, t.Subject, t.MessageID, t.Status, t.Error).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record test send of %s: %w", t.ContentID, err)
	}
	return id, nil
}
