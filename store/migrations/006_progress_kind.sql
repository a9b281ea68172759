-- Progress records are typed: what happened (enrolled, scored, stage,
-- handed_off, verdict, exited) and at which step, so reports and timelines
-- read a column instead of parsing the reason's words. Rows written before
-- are classified by those words once, here.
alter table score_snapshots
    add column kind text not null default '',
    add column step text not null default '',
    add column exit_reason text not null default '';
update score_snapshots set kind = case
    when reason like 'enrolled%' then 'enrolled'
    when reason like 'handed off%' then 'handed_off'
    when reason like 'exited%' then 'exited'
    when reason like 'entered stage %' or reason like 'stage set to %' then 'stage'
    when reason like 'sales verdict%' then 'verdict'
    when reason like '%; became MQL' then 'mql'
    else 'scored' end;
-- The reason is the word after "exited: " (an error's message after it
-- stays in reason, as new records keep it).
update score_snapshots set exit_reason = case when reason like 'exited: error:%' then 'error'
    else substr(reason, length('exited: ') + 1) end where kind = 'exited';
-- Reports read a journey's milestones (everything but plain rescores,
-- which are most rows), the journey's sends, and the opens and clicks of
-- its emails.
create index score_snapshots_marks_idx on score_snapshots (journey_id, version) include (lead_id, enrollment, kind, buying_stage, exit_reason, at)
    where kind <> 'scored';
create index sends_journey_idx on sends (journey_id, version);
create index events_engagement_idx on events (lead_id, (properties->>'content'), type) where type in ('email_open', 'email_click');

---- create above / drop below ----

drop index events_engagement_idx;
drop index sends_journey_idx;
drop index score_snapshots_marks_idx;
alter table score_snapshots drop column kind, drop column step, drop column exit_reason;
