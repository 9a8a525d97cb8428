-- Jira and GitHub syncs: the synced tables (schema sync) and the job state (schema ops).
-- Idempotent: safe to run at every start.

create schema if not exists sync;

-- GitHub pull requests, upserted by node id. deleted_at: the id-only sweep no longer saw it.
create table if not exists sync.github_pull_requests (
    id text primary key,
    database_id bigint not null,
    repo text not null,
    number integer not null,
    title text not null,
    state text not null,
    is_draft boolean not null,
    author_login text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    closed_at timestamptz,
    merged_at timestamptz,
    additions integer not null,
    deletions integer not null,
    changed_files integer not null,
    base_ref text not null,
    head_ref text not null,
    url text not null,
    labels text[] not null default '{}',
    deleted_at timestamptz,
    synced_at timestamptz not null default now()
);

create index if not exists github_pull_requests_repo_idx
on sync.github_pull_requests (repo, state) where deleted_at is null;

-- Jira issues, upserted by issue id (a key changes when an issue moves; the id does not).
create table if not exists sync.jira_issues (
    id bigint primary key,
    key text not null,
    project_key text not null,
    summary text,
    status text,
    status_category text,
    issue_type text,
    priority text,
    assignee text,
    reporter text,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    resolved_at timestamptz,
    labels text[] not null default '{}',
    fields jsonb not null,
    deleted_at timestamptz,
    synced_at timestamptz not null default now()
);

create index if not exists jira_issues_project_idx
on sync.jira_issues (project_key) where deleted_at is null;

-- One row per synced entity (a repository, a project): its state, checkpoint and progress.
create table if not exists ops.sync_jobs (
    service text not null check (service in ('github', 'jira')),
    entity text not null,
    status text not null default 'NOT_STARTED'
    check (status in ('NOT_STARTED', 'PENDING', 'RUNNING', 'FAILED', 'FINISHED', 'PAUSED')),
    status_reason text,
    needs_attention boolean not null default false,
    run_id text,
    config_hash text,
    -- the pass under way: full or incremental, and where it stands
    mode text check (mode in ('full', 'incremental')),
    phase text check (phase in ('walk', 'recheck', 'sweep', 'reconcile')),
    cursor text,
    page_size integer,
    keyset_ts timestamptz,
    keyset_ids text[] not null default '{}',
    walk_lower timestamptz,
    walk_upper timestamptz,
    walk_top_ts timestamptz,
    walk_top_id text,
    -- where the last finished walk ended: the next incremental walk starts here
    watermark_ts timestamptz,
    watermark_id text,
    -- progress of the pass, and totals
    pages integer not null default 0,
    items bigint not null default 0,
    skipped integer not null default 0,
    warnings integer not null default 0,
    api_cost bigint not null default 0,
    rate_remaining integer,
    total_processed bigint not null default 0,
    -- reconciliation after the last pass: the API's count against ours
    api_count bigint,
    db_count bigint,
    reconciled_at timestamptz,
    last_error text,
    next_retry_at timestamptz,
    pass_started_at timestamptz,
    last_sync_at timestamptz,
    last_sweep_at timestamptz,
    status_changed_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (service, entity)
);

-- Every status change, written by the trigger below: the source of the recovery metrics.
create table if not exists ops.sync_transitions (
    id bigint generated always as identity primary key,
    service text not null,
    entity text not null,
    from_status text not null,
    to_status text not null,
    run_id text,
    reason text,
    at timestamptz not null default clock_timestamp()
);

create index if not exists sync_transitions_entity_idx on ops.sync_transitions (service, entity, at);

-- ops.sync_recovery_metrics starts from the failures: a few rows among many transitions.
create index if not exists sync_transitions_failed_idx on ops.sync_transitions (service, entity, at)
where to_status = 'FAILED';

-- The job state machine. Anything else is refused by the database itself.
create table if not exists ops.sync_allowed_transitions (
    from_status text not null,
    to_status text not null,
    meaning text not null,
    primary key (from_status, to_status)
);

insert into ops.sync_allowed_transitions (from_status, to_status, meaning)
values
('NOT_STARTED', 'PENDING', 'queued for its first pass'),
('PENDING', 'RUNNING', 'a worker took it'),
('PENDING', 'PAUSED', 'paused by hand while queued'),
('RUNNING', 'FINISHED', 'pass complete'),
('RUNNING', 'FAILED', 'error, or its worker was lost'),
('RUNNING', 'PENDING', 'rate limited: resumes at next_retry_at'),
('RUNNING', 'PAUSED', 'paused by hand: stops at the next page'),
('FAILED', 'PENDING', 'recovery ready'),
('FAILED', 'PAUSED', 'paused by hand after a failure'),
('FINISHED', 'PENDING', 'queued for its next pass'),
('PAUSED', 'PENDING', 'resumed by hand')
on conflict do nothing;

-- Ids seen by the id-only sweep under way, page by page (so a sweep resumes too).
create table if not exists ops.sync_sweep_ids (
    service text not null,
    entity text not null,
    id text not null,
    primary key (service, entity, id)
);
