-- A batch of a project's live issues the full walk did not see, by id.
-- EXCEPT costs the same with or without table statistics.
select unseen.id
from (
    select i.id from sync.jira_issues as i
    where i.project_key = %(entity)s and i.deleted_at is null
    except
    select s.id::bigint from ops.sync_sweep_ids as s
    where s.service = %(service)s and s.entity = %(entity)s
) as unseen
where %(after)s::bigint is null or unseen.id > %(after)s::bigint
order by unseen.id
limit %(batch_size)s;
