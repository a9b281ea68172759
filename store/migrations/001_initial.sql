-- The system of record the business reads. Temporal holds each lead's live
-- journey state; these tables hold what marketing, sales and finance ask
-- about afterwards, and what must be unique across retries (events, sends,
-- hand-offs).

-- Published journey versions are immutable: a lead runs the version it was
-- enrolled with, so a row here is never updated.
create table journey_versions (
    journey_id   text        not null,
    version      int         not null,
    hash         text        not null,
    source       text        not null,
    definition   jsonb       not null,
    published_at timestamptz not null default now(),
    primary key (journey_id, version)
);

create table leads (
    id              text primary key,
    email           text        not null unique,
    first_name      text        not null default '',
    last_name       text        not null default '',
    company         text        not null default '',
    title           text        not null default '',
    time_zone       text        not null default 'UTC',
    source          text        not null default '',
    fields          jsonb       not null default '{}',
    journey_id      text,
    journey_version int,
    buying_stage    text        not null default '',
    lifecycle       text        not null default 'new',
    score           int         not null default 0,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- Engagement is stored before it is signalled, keyed by the sender's event
-- ID, so a retried webhook is stored once and nothing accepted is lost.
create table events (
    id          text primary key,
    lead_id     text        not null references leads (id),
    type        text        not null,
    occurred_at timestamptz not null,
    source      text        not null default '',
    properties  jsonb       not null default '{}',
    received_at timestamptz not null default now()
);
create index events_lead_idx on events (lead_id, occurred_at);

-- One row per rescore, with the breakdown that explains it. (enrollment,
-- seq) makes a retried write land once.
create table score_snapshots (
    id           bigint generated always as identity primary key,
    lead_id      text        not null references leads (id),
    enrollment   text        not null,
    seq          int         not null,
    journey_id   text        not null,
    version      int         not null,
    total        int         not null,
    interest     int         not null,
    intent       int         not null,
    adjusted     int         not null default 0,
    breakdown    jsonb       not null,
    lifecycle    text        not null,
    buying_stage text        not null,
    reason       text        not null,
    at           timestamptz not null default now(),
    unique (lead_id, enrollment, seq)
);
create index score_snapshots_lead_idx on score_snapshots (lead_id, id);

-- The idempotency key (workflow, enrolment, step, occurrence) is the primary
-- key: a retried send activity finds its row and does not mail twice. A row
-- is claimed as 'sending' before the SMTP conversation and marked 'sent' or
-- 'failed' after it; a 'sending' row left by a worker that died mid-send is
-- never mailed again (at most once), and stays visible for operators.
create table sends (
    idempotency_key text primary key,
    lead_id         text        not null references leads (id),
    journey_id      text        not null,
    version         int         not null,
    step_id         text        not null,
    content_id      text        not null,
    to_address      text        not null,
    subject         text        not null,
    message_id      text        not null,
    cost            numeric(12, 4) not null default 0,
    status          text        not null default 'sending',
    error           text        not null default '',
    claimed_at      timestamptz not null default now(),
    sent_at         timestamptz
);
create index sends_lead_idx on sends (lead_id, sent_at);

create table handoffs (
    id           bigint generated always as identity primary key,
    idempotency_key text    not null unique,
    lead_id      text        not null references leads (id),
    journey_id   text        not null,
    version      int         not null,
    score        int         not null,
    breakdown    jsonb       not null,
    reason       text        not null,
    sales_email  text        not null default '',
    verdict      text,
    verdict_reason text,
    verdict_at   timestamptz,
    created_at   timestamptz not null default now()
);
create index handoffs_lead_idx on handoffs (lead_id, id);

-- Suppressions are checked at send time, so an unsubscribe that arrives
-- while a send is scheduled still stops it.
create table suppressions (
    email      text primary key,
    reason     text        not null,
    created_at timestamptz not null default now()
);

---- create above / drop below ----

drop table suppressions;
drop table handoffs;
drop table sends;
drop table score_snapshots;
drop table events;
drop table leads;
drop table journey_versions;
