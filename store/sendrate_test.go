package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

// TestDomainSlotsFillWindowsInOrder: sends to one domain take the slots of
// the window of now until it is full, then those of the next windows, in
// order; a key keeps its slot; another domain is counted apart; a window
// that has passed is forgotten.
func TestDomainSlotsFillWindowsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Pool(t)
	now := time.Date(2026, 11, 23, 9, 0, 20, 0, time.UTC)
	minute := time.Minute
	reserve := func(key, domain string, at time.Time) time.Time {
		t.Helper()
		start, err := store.ReserveDomainSlot(ctx, db, key, domain, at, 2, minute)
		require.NoError(t, err)
		return start
	}
	nine := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	require.Equal(t, nine, reserve("a", "gmail.test", now))
	require.Equal(t, nine, reserve("b", "gmail.test", now))
	require.Equal(t, nine.Add(minute), reserve("c", "gmail.test", now), "the window of now is full: the next")
	require.Equal(t, nine.Add(minute), reserve("d", "gmail.test", now))
	require.Equal(t, nine.Add(2*minute), reserve("e", "gmail.test", now))
	require.Equal(t, nine, reserve("x", "acme.test", now), "another domain has its own slots")

	require.Equal(t, nine.Add(minute), reserve("c", "gmail.test", now.Add(50*time.Second)), "a key keeps its slot")
	require.Equal(t, nine.Add(minute), reserve("c", "gmail.test", now.Add(time.Minute)), "and goes in it")
	require.Equal(t, nine.Add(2*minute), reserve("f", "gmail.test", now.Add(time.Minute)), "9:02 has one slot left")
	require.Equal(t, nine.Add(3*minute), reserve("g", "gmail.test", now.Add(time.Minute)))

	later := nine.Add(10 * minute)
	require.Equal(t, later, reserve("a", "gmail.test", later.Add(time.Second)), "a slot in a window gone by is given up for one now")
	require.Equal(t, later, reserve("h", "gmail.test", later.Add(time.Second)))
	require.Equal(t, later.Add(minute), reserve("i", "gmail.test", later.Add(time.Second)))

	slots, err := store.DomainSlots(ctx, db)
	require.NoError(t, err)
	for _, s := range slots {
		require.LessOrEqual(t, s.Sends, 2, "window %s of %s", s.Start, s.Domain)
	}
}

// TestDomainSlotsHoldAcrossWorkers: many workers reserving at once for one
// domain never put more than the limit in a window, and every send gets a
// slot.
func TestDomainSlotsHoldAcrossWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Pool(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	const sends, limit = 60, 7
	var wg sync.WaitGroup
	errs := make(chan error, sends)
	for i := range sends {
		wg.Go(func() {
			_, err := store.ReserveDomainSlot(ctx, db, fmt.Sprintf("k%d", i), "gmail.test", now, limit, time.Minute)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	slots, err := store.DomainSlots(ctx, db)
	require.NoError(t, err)
	total := 0
	for i, s := range slots {
		require.Equal(t, now.Add(time.Duration(i)*time.Minute), s.Start.UTC(), "windows fill in order, none skipped")
		require.LessOrEqual(t, s.Sends, limit)
		total += s.Sends
	}
	require.Equal(t, sends, total)
	require.Len(t, slots, (sends+limit-1)/limit)
}
