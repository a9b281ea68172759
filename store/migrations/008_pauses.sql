-- A paused journey sends no email: its sends wait (their activity retries)
-- until it is resumed; timers, engagement and hand-offs go on.
create table journey_pauses (
    journey_id text        primary key,
    reason     text        not null default '',
    paused_at  timestamptz not null default now()
);

---- create above / drop below ----

drop table journey_pauses;
