-- A batch of pull requests still open in our table that the walk did not reach, by id.
select id
from sync.github_pull_requests
where
    repo = %(repo)s
    and state = 'OPEN'
    and deleted_at is null
    and updated_at < %(before)s
    and (%(after)s::text is null or id > %(after)s::text)
order by id
limit %(batch_size)s;
