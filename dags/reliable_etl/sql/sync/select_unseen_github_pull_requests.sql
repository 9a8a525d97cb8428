-- A batch of a repository's live pull requests the full walk did not see, by id.
-- EXCEPT costs the same with or without table statistics.
select unseen.id
from (
    select pr.id from sync.github_pull_requests as pr
    where pr.repo = %(entity)s and pr.deleted_at is null
    except
    select s.id from ops.sync_sweep_ids as s
    where s.service = %(service)s and s.entity = %(entity)s
) as unseen
where %(after)s::text is null or unseen.id > %(after)s::text
order by unseen.id
limit %(batch_size)s;
