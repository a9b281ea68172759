-- Human tasks (a sales rep's phone call) that a journey creates and waits
-- on. The idempotency key makes a retried activity create the task once;
-- cost is kept so the cost per lead counts people's time, not only email.
create table tasks (
    id              bigint generated always as identity primary key,
    idempotency_key text        not null unique,
    lead_id         text        not null references leads (id),
    journey_id      text        not null,
    version         int         not null,
    step_id         text        not null,
    title           text        not null,
    assignee        text        not null,
    cost            numeric(12, 4) not null default 0,
    outcomes        text[]      not null,
    outcome         text,
    note            text,
    created_at      timestamptz not null default now(),
    done_at         timestamptz
);
create index tasks_lead_idx on tasks (lead_id, id);
create index tasks_open_idx on tasks (assignee) where outcome is null;

---- create above / drop below ----

drop table tasks;
