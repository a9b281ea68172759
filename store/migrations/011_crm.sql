-- Hand-offs posted to the CRM: one row a hand-off, updated on every
-- attempt, so a CRM that keeps failing is seen (attempts, last error)
-- without reading the workflow's history.
create table crm_posts (
    handoff_id   bigint      primary key references handoffs (id),
    url          text        not null,
    attempts     int         not null default 0,
    last_status  int         not null default 0,
    last_error   text        not null default '',
    last_attempt timestamptz,
    delivered_at timestamptz
);
create index crm_posts_failing_idx on crm_posts (last_attempt) where delivered_at is null;

---- create above / drop below ----

drop table crm_posts;
