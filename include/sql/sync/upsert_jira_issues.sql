-- One issue, inserted or updated by issue id; an unchanged one is not written again.
-- Seen again after a soft delete: it is live again.
insert into sync.jira_issues as i (
    id, key, project_key, summary, status, status_category, issue_type, priority,
    assignee, reporter, created_at, updated_at, resolved_at, labels, fields
)
values (
    %(id)s, %(key)s, %(project_key)s, %(summary)s, %(status)s, %(status_category)s, %(issue_type)s,
    %(priority)s, %(assignee)s, %(reporter)s, %(created_at)s, %(updated_at)s, %(resolved_at)s,
    %(labels)s, %(fields)s
)
on conflict (id) do update
    set
        key = excluded.key,
        project_key = excluded.project_key,
        summary = excluded.summary,
        status = excluded.status,
        status_category = excluded.status_category,
        issue_type = excluded.issue_type,
        priority = excluded.priority,
        assignee = excluded.assignee,
        reporter = excluded.reporter,
        created_at = excluded.created_at,
        updated_at = excluded.updated_at,
        resolved_at = excluded.resolved_at,
        labels = excluded.labels,
        fields = excluded.fields,
        deleted_at = null,
        synced_at = now()
    where (
        i.key, i.project_key, i.updated_at, i.fields, i.deleted_at
    ) is distinct from (
        excluded.key, excluded.project_key, excluded.updated_at, excluded.fields, null
    );
