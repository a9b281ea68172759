package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nurture-dev/nurture/journeys"
)

// Published identifies a stored journey version.
type Published struct {
	JourneyID string
	Version   int
	Hash      string
	// Created is false when the source was already the latest version.
	Created bool
}

// PublishJourney stores a validated journey as a new immutable version,
// unless its source is the same as the latest version's (then it is a no-op).
// Publishes of one journey are serialised by an advisory lock.
func PublishJourney(ctx context.Context, db DB, j *journeys.Journey, source []byte) (Published, error) {
	sum := sha256.Sum256(source)
	p := Published{JourneyID: j.ID, Hash: hex.EncodeToString(sum[:])}
	def, err := json.Marshal(j)
	if err != nil {
		return p, fmt.Errorf("encode journey %q: %w", j.ID, err)
	}
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `select pg_advisory_xact_lock(hashtext('journey:' || $1))`, j.ID); err != nil {
			return err
		}
		var latestHash string
		err := tx.QueryRow(ctx, `select version, hash from journey_versions where journey_id = $1 order by version desc limit 1`, j.ID).
			Scan(&p.Version, &latestHash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if latestHash == p.Hash {
			return nil
		}
		p.Version++
		p.Created = true
		_, err = tx.Exec(ctx, `insert into journey_versions (journey_id, version, hash, source, definition) values ($1, $2, $3, $4, $5)`,
			j.ID, p.Version, p.Hash, string(source), def)
		return err
	})
	if err != nil {
		return p, fmt.Errorf("publish journey %q: %w", j.ID, err)
	}
	return p, nil
}

// LoadJourney loads a published version; version 0 means the latest.
func LoadJourney(ctx context.Context, db DB, id string, version int) (journeys.Journey, int, error) {
	var j journeys.Journey
	var def []byte
	err := db.QueryRow(ctx, `
select version, definition from journey_versions
where journey_id = $1 and ($2 = 0 or version = $2)
order by version desc limit 1`, id, version).Scan(&version, &def)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, 0, fmt.Errorf("journey %q version %d: %w (publish it first: starter publish FILE)", id, version, ErrNotFound)
	}
	if err != nil {
		return j, 0, fmt.Errorf("load journey %q: %w", id, err)
	}
	if err := json.Unmarshal(def, &j); err != nil {
		return j, 0, fmt.Errorf("decode journey %q version %d: %w", id, version, err)
	}
	return j, version, nil
}

// VersionInfo describes a published journey version.
type VersionInfo struct {
	JourneyID   string
	Name        string
	Version     int
	Hash        string
	PublishedAt time.Time
	// Running counts the leads on this version that are still in it
	// (nurturing, MQL or with sales).
	Running int
	// Finished counts the leads whose journey on this version ended.
	Finished int
}

// ListJourneys lists every published version, newest first per journey,
// with the leads on each. The counts are read from leads_journey_idx alone.
func ListJourneys(ctx context.Context, db DB) ([]VersionInfo, error) {
	// One index range a version and lifecycle: a version's counts cost
	// its own leads, not the whole table's.
	return listVersions(ctx, db, `
select v.journey_id, v.definition->>'name', v.version, v.hash, v.published_at,
    (select count(*) from leads l where l.journey_id = v.journey_id and l.journey_version = v.version
        and l.lifecycle = any('{nurturing,mql,handed_off}')),
    (select count(*) from leads l where l.journey_id = v.journey_id and l.journey_version = v.version
        and l.lifecycle = any('{exited,sql,disqualified,goal}'))
from journey_versions v
order by v.journey_id, v.version desc`)
}

// ListVersions is ListJourneys without the counts of leads, which a page
// that only names the versions need not wait for.
func ListVersions(ctx context.Context, db DB) ([]VersionInfo, error) {
	return listVersions(ctx, db, `
select journey_id, definition->>'name', version, hash, published_at, 0, 0
from journey_versions order by journey_id, version desc`)
}

func listVersions(ctx context.Context, db DB, sql string) ([]VersionInfo, error) {
	rows, err := db.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list journeys: %w", err)
	}
	defer rows.Close()
	var out []VersionInfo
	for rows.Next() {
		var v VersionInfo
		if err := rows.Scan(&v.JourneyID, &v.Name, &v.Version, &v.Hash, &v.PublishedAt, &v.Running, &v.Finished); err != nil {
			return nil, fmt.Errorf("list journeys: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// JourneysWithSource lists the journeys whose latest version has an entry
// rule for the source (a form's name), case-insensitively.
func JourneysWithSource(ctx context.Context, db DB, source string) ([]string, error) {
	rows, err := db.Query(ctx, `
select distinct v.journey_id
from journey_versions v
join (select journey_id, max(version) as version from journey_versions group by journey_id) latest using (journey_id, version)
cross join lateral jsonb_array_elements(coalesce(v.definition->'entry', '[]'::jsonb)) e
where lower(e->>'source') = lower($1)
order by 1`, source)
	if err != nil {
		return nil, fmt.Errorf("find journeys for source %q: %w", source, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find journeys for source %q: %w", source, err)
	}
	return ids, nil
}
