-- One page of issues (a JSON array of rows), inserted or updated by issue id in one statement;
-- an unchanged row is not written again, one seen again after a soft delete is live again.
insert into sync.jira_issues as i (
    id, key, project_key, summary, status, status_category, issue_type, priority,
    assignee, reporter, created_at, updated_at, resolved_at, labels, fields
)
select
    r.id,
    r.key,
    r.project_key,
    r.summary,
    r.status,
    r.status_category,
    r.issue_type,
    r.priority,
    r.assignee,
    r.reporter,
    r.created_at,
    r.updated_at,
    r.resolved_at,
    r.labels,
    r.fields
from
    jsonb_to_recordset(%(rows)s::jsonb)
        as r (
            id bigint, key text, project_key text, summary text, status text, status_category text,
            issue_type text, priority text, assignee text, reporter text, created_at timestamptz,
            updated_at timestamptz, resolved_at timestamptz, labels text[], fields jsonb
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
