-- End of a repository's sweep: soft-delete what GitHub no longer lists, revive what it lists again.
with listed as (
    select s.id from ops.sync_sweep_ids as s
    where s.service = %(service)s and s.entity = %(entity)s
),

deleted as (
    update sync.github_pull_requests as pr
    set deleted_at = now()
    where
        pr.repo = %(entity)s
        and pr.deleted_at is null
        and not exists (
            select 1 from listed
            where listed.id = pr.id
        )
    returning 1
)

update sync.github_pull_requests as pr
set deleted_at = null
where
    pr.repo = %(entity)s
    and pr.deleted_at is not null
    and exists (
        select 1 from listed
        where listed.id = pr.id
    );
