-- Live issues of a project created up to the walk's upper bound, for reconciliation.
select count(*)
from sync.jira_issues
where project_key = %(project)s and deleted_at is null and created_at <= %(upper)s;
