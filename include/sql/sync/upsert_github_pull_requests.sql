-- One pull request, inserted or updated by node id; an unchanged one is not written again.
-- Seen again after a soft delete: it is live again.
insert into sync.github_pull_requests as pr (
    id, database_id, repo, number, title, state, is_draft, author_login,
    created_at, updated_at, closed_at, merged_at,
    additions, deletions, changed_files, base_ref, head_ref, url, labels
)
values (
    %(id)s, %(database_id)s, %(repo)s, %(number)s, %(title)s, %(state)s, %(is_draft)s, %(author_login)s,
    %(created_at)s, %(updated_at)s, %(closed_at)s, %(merged_at)s,
    %(additions)s, %(deletions)s, %(changed_files)s, %(base_ref)s, %(head_ref)s, %(url)s, %(labels)s
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
