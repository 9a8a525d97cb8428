-- End of a project's sweep: soft-delete what Jira no longer lists, revive what it lists again.
with listed as (
    select s.id::bigint as id from ops.sync_sweep_ids as s
    where s.service = %(service)s and s.entity = %(entity)s
),

deleted as (
    update sync.jira_issues as i
    set deleted_at = now()
    where
        i.project_key = %(entity)s
        and i.deleted_at is null
        and not exists (
            select 1 from listed
            where listed.id = i.id
        )
    returning 1
)

update sync.jira_issues as i
set deleted_at = null
where
    i.project_key = %(entity)s
    and i.deleted_at is not null
    and exists (
        select 1 from listed
        where listed.id = i.id
    );
