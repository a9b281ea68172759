-- A paused journey sends no email to its leads: a send that falls due
-- waits (its activity retries) until the journey is resumed, and its lead
-- waits with it; leads in a wait keep their timers.
create table journey_pauses (
    journey_id text        primary key,
    reason     text        not null default '',
    paused_at  timestamptz not null default now()
);

---- create above / drop below ----

drop table journey_pauses;
