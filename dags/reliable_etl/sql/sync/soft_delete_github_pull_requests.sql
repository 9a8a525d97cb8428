-- Pull requests GitHub no longer resolves: kept, marked deleted.
update sync.github_pull_requests
set deleted_at = now()
where id = any(%(ids)s::text[]) and deleted_at is null;
