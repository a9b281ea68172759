-- Personal data in Temporal's histories is encrypted (package codec) with a
-- data key of the lead's own, kept here wrapped by a payload key
-- (PAYLOAD_KEYS). Erasing a lead deletes its wrapped key and keeps the row
-- (wrapped null, erased_at set): copies of its history that outlive the
-- erase (backups, archives, exports) can no longer be read, and no new key
-- is ever made for it.
create table lead_keys (
    lead_id    text        primary key,
    key_id     text        not null,
    wrapped    bytea,
    created_at timestamptz not null default now(),
    erased_at  timestamptz
);

-- An erased lead keeps its row (the funnel, costs and hand-offs still count
-- it) with nothing personal left; erased_at says so, and every way in
-- (enrolment, events, the console) refuses it.
alter table leads add column erased_at timestamptz;

---- create above / drop below ----

alter table leads drop column erased_at;
drop table lead_keys;
