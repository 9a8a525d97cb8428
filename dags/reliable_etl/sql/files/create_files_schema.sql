-- Nightly fixed-width files: loaded tables, their snapshots, and the load ledger.
-- Idempotent: safe to run at every start.

-- The tables the layouts declare (created from the layout on their first load).
create schema if not exists files;

-- Previous contents of those tables, one table per snapshot (the table as it was, renamed).
create schema if not exists files_snapshots;

-- One row per file per run: what happened to it. The same bytes loaded again are a no-op.
create table if not exists ops.file_loads (
    id bigint generated always as identity primary key,
    run_id text not null,
    file_name text not null,
    sha256 text not null,
    size_bytes bigint,
    table_name text not null,
    status text not null check (status in ('loaded', 'unchanged', 'refused', 'failed')),
    records bigint not null default 0,
    loaded bigint not null default 0,
    rejected bigint not null default 0,
    error_rate double precision not null default 0,
    snapshot text,
    error text,
    archived_to text,
    at timestamptz not null default now()
);

create index if not exists file_loads_sha_idx on ops.file_loads (table_name, sha256) where status = 'loaded';

-- The kept snapshots: newest first per table; a rollback restores one exactly.
create table if not exists ops.file_snapshots (
    snapshot text primary key,
    table_name text not null,
    taken_at timestamptz not null default clock_timestamp(),
    reason text not null,
    row_count bigint not null
);

create index if not exists file_snapshots_table_idx on ops.file_snapshots (table_name, taken_at desc);
