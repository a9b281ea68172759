-- The console's pages read pages of rows in a fixed order; these indexes
-- serve those orders without sorting the tables.

-- The lead list, newest change first, one page after another; filtered by
-- lifecycle or stage, from their own indexes in the same order.
create index leads_recent_idx on leads (updated_at desc, id desc);
create index leads_lifecycle_recent_idx on leads (lifecycle, updated_at desc, id desc);
create index leads_stage_recent_idx on leads (buying_stage, updated_at desc, id desc);
-- Leads per journey version and lifecycle, counted from the index alone.
create index leads_journey_idx on leads (journey_id, journey_version, lifecycle);
-- Lead search: the words of the address, the name and the company, each
-- found by its beginning (see FindLeads).
create index leads_search_idx on leads using gin (to_tsvector('simple',
    translate(email, '@.-_+', '     ') || ' ' || first_name || ' ' || last_name || ' ' || company));
-- The sales inbox: hand-offs waiting for a verdict, newest first.
create index handoffs_waiting_idx on handoffs (id desc) where verdict is null;
-- Open tasks, newest first.
create index tasks_waiting_idx on tasks (id desc) where outcome is null;
-- Suppressed addresses, newest first.
create index suppressions_recent_idx on suppressions (created_at desc, email);

---- create above / drop below ----

drop index suppressions_recent_idx;
drop index tasks_waiting_idx;
drop index handoffs_waiting_idx;
drop index leads_search_idx;
drop index leads_journey_idx;
drop index leads_stage_recent_idx;
drop index leads_lifecycle_recent_idx;
drop index leads_recent_idx;
