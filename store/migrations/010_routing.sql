-- Hand-offs are routed to an owner (kept in sales_email, where the notice
-- goes), by a rule or in turn within a team; team says which.
alter table handoffs add column team text not null default '';

-- A team's turn: how many hand-offs it has taken, per journey. Taken in
-- the transaction that records the hand-off, so a retried hand-off takes
-- none and every worker shares the count.
create table routing_turns (
    journey_id text   not null,
    team       text   not null,
    turns      bigint not null default 0,
    primary key (journey_id, team)
);

---- create above / drop below ----

drop table routing_turns;
alter table handoffs drop column team;
