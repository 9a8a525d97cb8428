-- End of a repository's sweep: soft-delete what GitHub no longer lists, revive what it lists again.
-- Set operations (EXCEPT / INTERSECT) cost the same with or without table statistics.
with listed as (
    select s.id from ops.sync_sweep_ids as s
    where s.service = %(service)s and s.entity = %(entity)s
),

unlisted as (
    select pr.id from sync.github_pull_requests as pr
    where pr.repo = %(entity)s and pr.deleted_at is null
    except
    select listed.id from listed
),

listed_again as (
    select pr.id from sync.github_pull_requests as pr
    where pr.repo = %(entity)s and pr.deleted_at is not null
    intersect
    select listed.id from listed
),

deleted as (
    update sync.github_pull_requests as pr
    set deleted_at = now()
    from unlisted
    where pr.id = unlisted.id
    returning 1
)

update sync.github_pull_requests as pr
set deleted_at = null
from listed_again
where pr.id = listed_again.id;
