-- One page of pull requests (a JSON array of rows), inserted or updated by node id in one
-- statement; an unchanged row is not written again, one seen again after a soft delete is live again.
insert into sync.github_pull_requests as pr (
    id, database_id, repo, number, title, state, is_draft, author_login,
    created_at, updated_at, closed_at, merged_at,
    additions, deletions, changed_files, base_ref, head_ref, url, labels
)
select
    r.id,
    r.database_id,
    r.repo,
    r.number,
    r.title,
    r.state,
    r.is_draft,
    r.author_login,
    r.created_at,
    r.updated_at,
    r.closed_at,
    r.merged_at,
    r.additions,
    r.deletions,
    r.changed_files,
    r.base_ref,
    r.head_ref,
    r.url,
    r.labels
from
    jsonb_to_recordset(%(rows)s::jsonb)
        as r (
            id text, database_id bigint, repo text, number integer, title text, state text, is_draft boolean,
            author_login text, created_at timestamptz, updated_at timestamptz, closed_at timestamptz,
            merged_at timestamptz, additions integer, deletions integer, changed_files integer, base_ref text,
            head_ref text, url text, labels text[]
        )
on conflict (id) do update
    set
        database_id = excluded.database_id,
        repo = excluded.repo,
        number = excluded.number,
        title = excluded.title,
        state = excluded.state,
        is_draft = excluded.is_draft,
        author_login = excluded.author_login,
        created_at = excluded.created_at,
        updated_at = excluded.updated_at,
        closed_at = excluded.closed_at,
        merged_at = excluded.merged_at,
        additions = excluded.additions,
        deletions = excluded.deletions,
        changed_files = excluded.changed_files,
        base_ref = excluded.base_ref,
        head_ref = excluded.head_ref,
        url = excluded.url,
        labels = excluded.labels,
        deleted_at = null,
        synced_at = now()
    where (
        pr.database_id, pr.repo, pr.number, pr.title, pr.state, pr.is_draft, pr.author_login,
        pr.created_at, pr.updated_at, pr.closed_at, pr.merged_at,
        pr.additions, pr.deletions, pr.changed_files, pr.base_ref, pr.head_ref, pr.url, pr.labels,
        pr.deleted_at
    ) is distinct from (
        excluded.database_id, excluded.repo, excluded.number, excluded.title, excluded.state,
        excluded.is_draft, excluded.author_login,
        excluded.created_at, excluded.updated_at, excluded.closed_at, excluded.merged_at,
        excluded.additions, excluded.deletions, excluded.changed_files, excluded.base_ref,
        excluded.head_ref, excluded.url, excluded.labels,
        null
    );
