-- Durability under real faults (a worker killed mid-send, an SMTP reply
-- that never comes, a workflow task lost in a Temporal restart).

-- Sends record how far they got: claimed -> connected -> data -> sent, or
-- failed / rejected / ambiguous. Only a send whose message end went out and
-- whose reply never came is ambiguous; everything before that is retried.
-- claim_token names the attempt that holds the claim, so an attempt that
-- Temporal gave up on cannot move the send on behind its successor's back.
alter table sends
    add column claim_token   text        not null default '',
    add column connected_at  timestamptz,
    add column data_at       timestamptz,
    -- The message as it went out, kept for an ambiguous send so an operator
    -- can send exactly it again (same Message-ID).
    add column raw_message   bytea,
    add column resolution    text        not null default '',
    add column resolved_at   timestamptz;
alter table sends alter column status set default 'claimed';
-- 'sending' was the one in-flight state before phases: whether such a
-- message went out is unknown.
update sends set status = 'ambiguous' where status = 'sending';
create index sends_attention_idx on sends (claimed_at) where status = 'ambiguous';

-- Event IDs are the sender's: unique per lead, not across all leads.
alter table events drop constraint events_pkey;
alter table events add primary key (lead_id, id);

-- The lead row follows the workflow's progress writes. Which write it
-- reflects is kept, so a write replayed from a lost workflow task can
-- replace one it supersedes, and a late write of an older enrolment cannot
-- overwrite a newer one.
alter table leads
    add column progress_enrollment text,
    add column progress_seq        int,
    add column progress_at         timestamptz,
    add column ended_at            timestamptz,
    add column exit_reason         text not null default '',
    -- An enrolment asked of Temporal and not yet confirmed: set before the
    -- start, cleared after it. A row that keeps it was refused or cut off,
    -- and `starter reconcile` drives it again.
    add column pending_journey     text,
    add column pending_stage       text not null default '',
    add column pending_since       timestamptz;
alter table leads alter column time_zone set default '';
create index leads_pending_idx on leads (pending_since) where pending_journey is not null;

---- create above / drop below ----

drop index leads_pending_idx;
alter table leads alter column time_zone set default 'UTC';
alter table leads
    drop column progress_enrollment,
    drop column progress_seq,
    drop column progress_at,
    drop column ended_at,
    drop column exit_reason,
    drop column pending_journey,
    drop column pending_stage,
    drop column pending_since;
alter table events drop constraint events_pkey;
alter table events add primary key (id);
drop index sends_attention_idx;
alter table sends alter column status set default 'sending';
alter table sends
    drop column claim_token,
    drop column connected_at,
    drop column data_at,
    drop column raw_message,
    drop column resolution,
    drop column resolved_at;
