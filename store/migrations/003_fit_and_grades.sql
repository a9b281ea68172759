-- Scores gained a fit part (the profile) and grades (fit A-D, engagement
-- 1-4) that sales reads; snapshots keep them so a score can be explained
-- as it was.
alter table score_snapshots
    add column fit              int  not null default 0,
    add column fit_grade        text not null default '',
    add column engagement_grade text not null default '';

---- create above / drop below ----

alter table score_snapshots
    drop column fit,
    drop column fit_grade,
    drop column engagement_grade;
