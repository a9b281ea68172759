-- Test sends: a content item mailed to a marketer's own address to see it
-- in a real inbox. Kept apart from sends, so no report, lead status or
-- cost ever counts one.
create table test_sends (
    id          bigint generated always as identity primary key,
    journey_id  text        not null,
    content_id  text        not null,
    persona     text        not null default '',
    to_address  text        not null,
    subject     text        not null,
    message_id  text        not null,
    status      text        not null,
    error       text        not null default '',
    sent_at     timestamptz not null default now()
);

---- create above / drop below ----

drop table test_sends;
