package store

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/nurture-dev/nurture/journeys"
)

// PublishShipped publishes every journey that comes with nurture (a no-op
// for those already published unchanged) and returns the one whose ID is
// main with its version: the demo and the tests enrol their leads in it.
func PublishShipped(ctx context.Context, db DB, main string) (*journeys.Journey, Published, error) {
	names, err := fs.Glob(journeys.Shipped(), "*.yaml")
	if err != nil {
		return nil, Published{}, err
	}
	var found *journeys.Journey
	var foundPub Published
	for _, name := range names {
		j, src, err := journeys.LoadShipped(name)
		if err != nil {
			return nil, Published{}, err
		}
		pub, err := PublishJourney(ctx, db, j, src)
		if err != nil {
			return nil, Published{}, err
		}
		if j.ID == main {
			found, foundPub = j, pub
		}
	}
	if found == nil {
		return nil, Published{}, fmt.Errorf("no shipped journey has the ID %q", main)
	}
	return found, foundPub, nil
}
