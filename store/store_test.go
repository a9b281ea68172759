package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/journeys"
	"github.com/nurture-dev/nurture/lead"
	"github.com/nurture-dev/nurture/progress"
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
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	require.Equal(t, len(files), version, "every migration applied, once")
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

func TestSendPhases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "grace@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	send := func(key string) store.Send {
		return store.Send{Key: key, LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "step", ContentID: "c", To: p.Email, Subject: "s", MessageID: "<" + key + "@x>"}
	}
	status := func(key string) store.SendStatus {
		st, err := store.GetSendStatus(ctx, pool, key)
		require.NoError(t, err)
		return st
	}

	// An attempt that died before the message's end went out is taken
	// over, and the dead attempt cannot move the send any more.
	require.NoError(t, store.ClaimSend(ctx, pool, send("a"), "dead"))
	require.NoError(t, store.AdvanceSend(ctx, pool, "a", "dead", store.SendConnected, "", store.SendClaimed))
	require.NoError(t, store.ClaimSend(ctx, pool, send("a"), "next"))
	require.ErrorIs(t, store.AdvanceSend(ctx, pool, "a", "dead", store.SendData, "", store.SendConnected), store.ErrClaimLost)
	require.NoError(t, store.AdvanceSend(ctx, pool, "a", "next", store.SendConnected, "", store.SendClaimed))
	require.NoError(t, store.AdvanceSend(ctx, pool, "a", "next", store.SendData, "", store.SendConnected))
	require.NoError(t, store.AdvanceSend(ctx, pool, "a", "next", store.SendSent, "", store.SendData))
	require.ErrorIs(t, store.ClaimSend(ctx, pool, send("a"), "third"), store.ErrAlreadySent)

	// An attempt that died after the message's end went out leaves the
	// send ambiguous: the next one does not send it.
	require.NoError(t, store.ClaimSend(ctx, pool, send("b"), "dead"))
	require.NoError(t, store.AdvanceSend(ctx, pool, "b", "dead", store.SendConnected, "", store.SendClaimed))
	require.NoError(t, store.AdvanceSend(ctx, pool, "b", "dead", store.SendData, "", store.SendConnected))
	require.ErrorIs(t, store.ClaimSend(ctx, pool, send("b"), "next"), store.ErrAmbiguous)
	require.Equal(t, store.SendAmbiguous, status("b"))
	require.ErrorIs(t, store.ClaimSend(ctx, pool, send("b"), "again"), store.ErrAmbiguous)
	// ... but if the dead attempt was only slow and its reply came, the
	// truth wins.
	require.NoError(t, store.AdvanceSend(ctx, pool, "b", "dead", store.SendSent, "", store.SendData, store.SendAmbiguous))
	require.Equal(t, store.SendSent, status("b"))

	// A refusal for good stays a refusal; a failure is retried.
	require.NoError(t, store.ClaimSend(ctx, pool, send("c"), "x"))
	require.NoError(t, store.AdvanceSend(ctx, pool, "c", "x", store.SendRejected, "550 no such user", store.SendClaimed))
	require.ErrorIs(t, store.ClaimSend(ctx, pool, send("c"), "y"), store.ErrRejected)
	require.NoError(t, store.ClaimSend(ctx, pool, send("d"), "x"))
	require.NoError(t, store.AdvanceSend(ctx, pool, "d", "x", store.SendFailed, "451 later", store.SendClaimed))
	require.NoError(t, store.ClaimSend(ctx, pool, send("d"), "y"))

	// Operators resolve ambiguous sends, and only those.
	require.NoError(t, store.ClaimSend(ctx, pool, send("e"), "x"))
	require.NoError(t, store.AdvanceSend(ctx, pool, "e", "x", store.SendConnected, "", store.SendClaimed))
	require.NoError(t, store.AdvanceSend(ctx, pool, "e", "x", store.SendData, "", store.SendConnected))
	require.NoError(t, store.AdvanceSend(ctx, pool, "e", "x", store.SendAmbiguous, "EOF", store.SendData))
	require.NoError(t, store.KeepMessage(ctx, pool, "e", []byte("raw")))
	rows, err := store.ListSends(ctx, pool, "", 10, store.SendAmbiguous)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "e", rows[0].Key)
	require.True(t, rows[0].HasMessage)
	require.ErrorContains(t, store.ResolveSent(ctx, pool, "a", "x"), "not ambiguous")
	require.NoError(t, store.ResolveSent(ctx, pool, "e", "the lead replied to it"))
	require.Equal(t, store.SendSent, status("e"))

	counts, err := store.CountSendsByStatus(ctx, pool, p.ID)
	require.NoError(t, err)
	require.Equal(t, map[store.SendStatus]int{store.SendSent: 3, store.SendRejected: 1, store.SendClaimed: 1}, counts)
}

func TestConcurrentClaimsDeliverOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "concurrent@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	s := store.Send{Key: "k", LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "step", ContentID: "c", To: p.Email, Subject: "s", MessageID: "<k@x>"}
	// Five attempts race; each that holds the claim at the moment it would
	// transmit moves the send to data. Exactly one gets there.
	var mu sync.Mutex
	transmitted := 0
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := fmt.Sprint("attempt-", i)
			if err := store.ClaimSend(ctx, pool, s, token); err != nil {
				return
			}
			if err := store.AdvanceSend(ctx, pool, s.Key, token, store.SendConnected, "", store.SendClaimed); err != nil {
				return
			}
			if err := store.AdvanceSend(ctx, pool, s.Key, token, store.SendData, "", store.SendConnected); err != nil {
				return
			}
			mu.Lock()
			transmitted++
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.Equal(t, 1, transmitted)
}

func TestProgressFollowsTheWorkflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	p := lead.Profile{Email: "margaret@example.com"}
	require.NoError(t, p.Normalize())
	require.NoError(t, store.UpsertLead(ctx, pool, p))
	snap := func(enrollment string, seq int, lifecycle string, score int, at time.Time) store.Snapshot {
		return store.Snapshot{LeadID: p.ID, Enrollment: enrollment, Seq: seq, JourneyID: "j", Version: 1,
			Score: scoring.Score{Intent: score}, Lifecycle: lifecycle, BuyingStage: "evaluation", Reason: lifecycle, At: at}
	}
	row := func() store.LeadRow {
		r, err := store.GetLead(ctx, pool, p.ID)
		require.NoError(t, err)
		return r
	}
	seqs := func(enrollment string) []int {
		rows, err := pool.Query(ctx, "select seq from score_snapshots where lead_id = $1 and enrollment = $2 order by seq", p.ID, enrollment)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[int])
		require.NoError(t, err)
		return out
	}
	t0 := testTime
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-1", 1, "nurturing", 0, t0)))
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-1", 1, "nurturing", 0, t0)), "a retried write lands once")

	// A workflow task writes 2, 3 and 4, and is lost: Temporal restarts
	// and the task runs again with the signals batched differently.
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-1", 2, "mql", 40, t0)))
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-1", 3, "mql", 60, t0)))
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-1", 4, "nurturing", 10, t0)))
	// The task that counts writes only 2, with the hand-off in it.
	handoff := snap("run-1", 2, "handed_off", 95, t0)
	handoff.Kind, handoff.Step = progress.HandedOff, "settle"
	require.NoError(t, store.RecordProgress(ctx, pool, handoff))
	require.EqualValues(t, "handed_off", row().Lifecycle)
	require.Equal(t, 95, row().Score)
	require.Equal(t, []int{1, 2}, seqs("run-1"), "what the lost task wrote beyond is gone")
	latest, err := store.LatestSnapshot(ctx, pool, p.ID)
	require.NoError(t, err)
	require.EqualValues(t, "handed_off", latest.Lifecycle)
	require.Equal(t, progress.HandedOff, latest.Kind, "what happened is kept typed")
	require.Equal(t, "settle", latest.Step)

	// The journey ends; the lead enrols again. A late write of the old
	// enrolment cannot overwrite the new one.
	ended := snap("run-1", 3, "sql", 95, t0.Add(time.Hour))
	ended.Ended = true
	require.NoError(t, store.RecordProgress(ctx, pool, ended))
	require.NotNil(t, row().EndedAt)
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-2", 1, "nurturing", 0, t0.Add(48*time.Hour))))
	require.Nil(t, row().EndedAt)
	require.NoError(t, store.RecordProgress(ctx, pool, snap("run-1", 3, "sql", 95, t0.Add(time.Hour))))
	require.EqualValues(t, "nurturing", row().Lifecycle)
	require.NotNil(t, latest.Score.Breakdown, "an empty breakdown is stored as a list, not NULL")
}

func TestEventIDsAreUniquePerLead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.Pool(t)
	var ids []string
	for _, email := range []string{"one@example.com", "two@example.com"} {
		p := lead.Profile{Email: email}
		require.NoError(t, p.Normalize())
		require.NoError(t, store.UpsertLead(ctx, pool, p))
		ids = append(ids, p.ID)
	}
	for _, id := range ids {
		isNew, err := store.InsertEvent(ctx, pool, lead.Event{ID: "form-17", LeadID: id, Type: lead.ContactForm, OccurredAt: testTime})
		require.NoError(t, err)
		require.True(t, isNew, "the same sender ID for another lead is another event")
		n, err := store.CountEvents(ctx, pool, id)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
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
	require.NoError(t, store.ClaimSend(ctx, pool, store.Send{Key: "s", LeadID: p.ID, JourneyID: "j", Version: 1, StepID: "s", ContentID: "c", To: p.Email, Subject: "s", MessageID: "m"}, "t"))

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
