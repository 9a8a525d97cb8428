-- Live pull requests of a repository, for reconciliation with GitHub's totalCount.
select count(*)
from sync.github_pull_requests
where repo = %(repo)s and deleted_at is null;
