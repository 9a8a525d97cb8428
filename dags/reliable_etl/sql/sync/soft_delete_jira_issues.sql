-- Issues Jira no longer returns by id: kept, marked deleted.
update sync.jira_issues
set deleted_at = now()
where id = any(%(ids)s::bigint[]) and deleted_at is null;
