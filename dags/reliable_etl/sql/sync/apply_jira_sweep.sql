-- End of a project's sweep: soft-delete what Jira no longer lists, revive what it lists again.
-- Set operations (EXCEPT / INTERSECT) cost the same with or without table statistics.
with listed as (
    select s.id::bigint as id from ops.sync_sweep_ids as s
    where s.service = %(service)s and s.entity = %(entity)s
),

unlisted as (
    select i.id from sync.jira_issues as i
    where i.project_key = %(entity)s and i.deleted_at is null
    except
    select listed.id from listed
),

listed_again as (
    select i.id from sync.jira_issues as i
    where i.project_key = %(entity)s and i.deleted_at is not null
    intersect
    select listed.id from listed
),

deleted as (
    update sync.jira_issues as i
    set deleted_at = now()
    from unlisted
    where i.id = unlisted.id
    returning 1
)

update sync.jira_issues as i
set deleted_at = null
from listed_again
where i.id = listed_again.id;
