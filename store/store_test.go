package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/scoring"
	"github.com/nurture-dev/nurture/store"
	"github.com/nurture-dev/nurture/store/storetest"
)

var testTime = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t) // migrated once already
	require.NoError(t, store.Migrate(ctx, pool))
	var version int
	require.NoError(t, pool.QueryRow(ctx, "select version from nurture_schema_version").Scan(&version))
	require.Equal(t, 3, version)
}

func TestConcurrentStartsDoNotRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.NewDatabase(t)
	// Several workers starting at once on a database that does not exist
	// yet: every one must come up, with the schema applied once.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	pools := make([]*pgxpool.Pool, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pools[i], errs[i] = store.Open(ctx, url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "start %d", i)
		defer pools[i].Close()
	}
	var n int
	require.NoError(t, pools[0].QueryRow(ctx, "select count(*) from nurture_schema_version").Scan(&n))
	require.Equal(t, 1, n)
}

func TestOpenSaysWhenPostgresIsUnreachable(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "postgres://postgres@127.0.0.1:1/nurture?sslmode=disable")
	require.ErrorIs(t, err, store.ErrUnreachable)
	hint := store.Hint(err)
	require.Contains(t, hint, "127.0.0.1:1")
	require.Contains(t, hint, "start one")
	require.NotContains(t, hint, "\n")
}

func TestPublishJourney(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	j, src, err := journeys.LoadShipped("b2b-nurture.yaml")
	require.NoError(t, err)

	p, err := store.PublishJourney(ctx, pool, j, src)
	require.NoError(t, err)
	require.True(t, p.Created)
	require.Equal(t, 1, p.Version)

	again, err := store.PublishJourney(ctx, pool, j, src)
	require.NoError(t, err)
	require.False(t, again.Created, "an unchanged file publishes nothing")
	require.Equal(t, 1, again.Version)

	edited := append(append([]byte{}, src...), []byte("\n# edited\n")...)
	v2, err := store.PublishJourney(ctx, pool, j, edited)
	require.NoError(t, err)
	require.True(t, v2.Created)
	require.Equal(t, 2, v2.Version)

	latest, version, err := store.LoadJourney(ctx, pool, j.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 2, version)
	require.Equal(t, j.Handoff, latest.Handoff)
	old, version, err := store.LoadJourney(ctx, pool, j.ID, 1)
	require.NoError(t, err)
	require.Equal(t, 1, version)
	require.Equal(t, len(j.Steps()), len(old.Steps()))

	_, _, err = store.LoadJourney(ctx, pool, "no-such-journey", 0)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestEventsAreStoredOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "Ada@Example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	ev := lead.Event{ID: "evt-1", LeadID: p.ID, Type: lead.EmailOpen, OccurredAt: testTime}
	isNew, err := store.InsertEvent(ctx, pool, ev)
	require.NoError(t, err)
	require.True(t, isNew)
	isNew, err = store.InsertEvent(ctx, pool, ev)
	require.NoError(t, err)
	require.False(t, isNew)
	n, err := store.CountEvents(ctx, pool, p.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestSendOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "grace@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	s := store.Send{Key: "lead-x/run/step/1", LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "step", ContentID: "c", To: p.Email, Subject: "s", MessageID: "<m@x>"}

	// A delivery that fails releases the key, so the retry sends.
	boom := errors.New("smtp down")
	require.ErrorIs(t, store.SendOnce(ctx, pool, s, func() error { return boom }), boom)
	status, err := store.SendStatus(ctx, pool, s.Key)
	require.NoError(t, err)
	require.Equal(t, "failed", status)

	var mu sync.Mutex
	delivered := 0
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := store.SendOnce(ctx, pool, s, func() error {
				mu.Lock()
				delivered++
				mu.Unlock()
				return nil
			})
			if err != nil && !errors.Is(err, store.ErrAlreadySent) && !errors.Is(err, store.ErrUnconfirmed) {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, delivered, "five concurrent attempts with one key deliver once")
	require.ErrorIs(t, store.SendOnce(ctx, pool, s, func() error { t.Fatal("delivered again"); return nil }), store.ErrAlreadySent)
	n, err := store.CountSends(ctx, pool, p.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestSendClaimedByADeadAttemptIsNotSentAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "linus@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	s := store.Send{Key: "lead-y/run/step/1", LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "step", ContentID: "c", To: p.Email, Subject: "s", MessageID: "<m@y>"}

	// The worker dies during the SMTP conversation: the claim stays.
	crashed := errors.New("worker killed")
	func() {
		defer func() { _ = recover() }()
		_ = store.SendOnce(ctx, pool, s, func() error { panic(crashed) })
	}()
	status, err := store.SendStatus(ctx, pool, s.Key)
	require.NoError(t, err)
	require.Equal(t, "sending", status)

	err = store.SendOnce(ctx, pool, s, func() error { t.Fatal("mailed twice"); return nil })
	require.ErrorIs(t, err, store.ErrUnconfirmed)
}

func TestProgressIsRecordedOncePerSequence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "margaret@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	snap := store.Snapshot{LeadID: p.ID, Enrollment: "run-1", Seq: 1, JourneyID: "j", Version: 1,
		Score: scoring.Score{Intent: 40}, Lifecycle: "mql", BuyingStage: "evaluation", Reason: "demo_request", At: testTime}
	require.NoError(t, store.RecordProgress(ctx, pool, snap))
	require.NoError(t, store.RecordProgress(ctx, pool, snap), "a retried write is a no-op")
	var n int
	require.NoError(t, pool.QueryRow(ctx, "select count(*) from score_snapshots where lead_id = $1", p.ID).Scan(&n))
	require.Equal(t, 1, n)
	got, err := store.LatestSnapshot(ctx, pool, p.ID)
	require.NoError(t, err)
	require.Equal(t, 40, got.Score.Total())
	require.NotNil(t, got.Score.Breakdown, "an empty breakdown is stored as a list, not NULL")
	row, err := store.GetLead(ctx, pool, p.ID)
	require.NoError(t, err)
	require.Equal(t, 40, row.Score)
	require.Equal(t, "mql", row.Lifecycle)
}

func TestForgetLead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "forget@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	_, err := store.InsertEvent(ctx, pool, lead.Event{ID: "f1", LeadID: p.ID, Type: lead.Unsubscribe, OccurredAt: testTime})
	require.NoError(t, err)
	require.NoError(t, store.Suppress(ctx, pool, p.Email, "unsubscribe"))
	require.NoError(t, store.RecordProgress(ctx, pool, store.Snapshot{LeadID: p.ID, Enrollment: "e", Seq: 1, JourneyID: "j", Version: 1, Lifecycle: "exited", Reason: "x", At: testTime}))
	_, _, err = store.InsertHandoff(ctx, pool, store.Handoff{Key: "h", LeadID: p.ID, JourneyID: "j", Version: 1, Reason: "r"})
	require.NoError(t, err)
	_, _, err = store.InsertTask(ctx, pool, store.Task{Key: "t", LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "s", Title: "Call", Assignee: "a@b.test", Outcomes: []string{"ok"}})
	require.NoError(t, err)
	require.NoError(t, store.SendOnce(ctx, pool, store.Send{Key: "s", LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "s", ContentID: "c", To: p.Email, Subject: "s", MessageID: "m"}, func() error { return nil }))

	require.NoError(t, store.ForgetLead(ctx, pool, p.ID))
	_, err = store.GetLead(ctx, pool, p.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, suppressed, err := store.IsSuppressed(ctx, pool, p.Email)
	require.NoError(t, err)
	require.False(t, suppressed)
	for _, table := range []string{"events", "sends", "score_snapshots", "handoffs", "tasks"} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "select count(*) from "+table).Scan(&n))
		require.Zero(t, n, table)
	}
}
