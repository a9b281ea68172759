-- Progress records are typed: what happened (enrolled, scored, stage,
-- handed_off, verdict, exited) and at which step, so reports and timelines
-- read a column instead of parsing the reason's words. Rows written before
-- are classified by those words once, here.
alter table score_snapshots
    add column kind text not null default '',
    add column step text not null default '';
update score_snapshots set kind = case
    when reason like 'enrolled%' then 'enrolled'
    when reason like 'handed off%' then 'handed_off'
    when reason like 'exited%' then 'exited'
    when reason like 'entered stage %' or reason like 'stage set to %' then 'stage'
    when reason like 'sales verdict%' then 'verdict'
    else 'scored' end;

---- create above / drop below ----

alter table score_snapshots drop column kind, drop column step;
