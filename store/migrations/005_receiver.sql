-- The HTTP edge: websites, forms, email providers and the CRM reach leads.

-- A CRM knows a lead by its own ID; events and verdicts may name it so.
alter table leads add column external_id text;
create unique index leads_external_id_idx on leads (external_id) where external_id is not null;

-- An event is stored before it is signalled. When the signal fails (Temporal
-- is away) and nobody will send the event again (a click, an open: a
-- browser does not retry), undelivered_since marks it, and `starter
-- reconcile` delivers it later. The usual path writes nothing more.
alter table events add column undelivered_since timestamptz;
create index events_undelivered_idx on events (undelivered_since) where undelivered_since is not null;

-- Who in sales gave the verdict (a CRM user, or "email link").
alter table handoffs add column verdict_owner text not null default '';

-- The email provider's word that a message was delivered: it also settles
-- an ambiguous send.
alter table sends add column delivered_at timestamptz;

---- create above / drop below ----

alter table sends drop column delivered_at;
alter table handoffs drop column verdict_owner;
drop index events_undelivered_idx;
alter table events drop column undelivered_since;
drop index leads_external_id_idx;
alter table leads drop column external_id;
