-- The per-recipient-domain send limit (SEND_RATE_PER_DOMAIN): at most N
-- journey emails to one domain in each fixed window (a minute), however
-- many workers send, so gmail.com does not get 5,000 mails at 09:00.
--
-- A send takes a slot in the earliest window that has room, and waits for
-- it when that window is still to come (its activity retries once, at the
-- window). Windows fill in order, so one row per domain is enough to know
-- the earliest window with room: the latest window anyone reserved, and
-- how many it holds (every window between now and it is full).
create table domain_send_windows (
    domain       text        primary key,
    window_start timestamptz not null,
    sends        integer     not null check (sends > 0)
);

-- The slot each send holds, by its idempotency key: a send retried after
-- it waited (or after its worker died) keeps its slot instead of taking
-- another, so a held send retries once, not once a window. Rows older than
-- a day are pruned as windows roll over.
create table send_slots (
    send_key     text        primary key,
    domain       text        not null,
    window_start timestamptz not null
);
create index send_slots_domain_window on send_slots (domain, window_start);

---- create above / drop below ----

drop table send_slots;
drop table domain_send_windows;
