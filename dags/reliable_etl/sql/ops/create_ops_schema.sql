-- The ops ledger shared by every pipeline. Idempotent: safe to run at every start.

create schema if not exists ops;

-- One row per month a pipeline has published, with the fingerprint of its input.
create table if not exists ops.processed_months (
    id bigint generated always as identity primary key,
    pipeline_name text not null,
    month_key text not null check (month_key ~ '^\d{4}-\d{2}$'),
    year integer not null,
    month integer not null check (month between 1 and 12),
    status text not null check (status in ('in_progress', 'completed', 'failed')),
    input_fingerprint text,
    input_rows bigint,
    rows_written bigint,
    error text,
    processed_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (pipeline_name, month_key)
);

-- Start/end of every stage of every unit of work, written with the data it describes.
create table if not exists ops.pipeline_checkpoint (
    id bigint generated always as identity primary key,
    pipeline_name text not null,
    run_id text not null,
    stage text not null,
    checkpoint_key text not null,
    checkpoint_value text,
    status text not null check (status in ('pending', 'in_progress', 'completed', 'failed')),
    start_time timestamptz not null default now(),
    end_time timestamptz,
    duration_ms bigint,
    error text,
    metadata jsonb not null default '{}',
    unique (pipeline_name, run_id, stage, checkpoint_key)
);

create index if not exists pipeline_checkpoint_latest_idx
on ops.pipeline_checkpoint (pipeline_name, stage, checkpoint_key, start_time desc);

-- The advisory lock the unit held: whoever takes it later knows an in-progress row is dead.
alter table ops.pipeline_checkpoint add column if not exists lock_key text;

create index if not exists pipeline_checkpoint_in_progress_idx
on ops.pipeline_checkpoint (pipeline_name, checkpoint_key) where status = 'in_progress';

-- Structured logs, batched from every task and CLI command.
create table if not exists ops.pipeline_logs (
    id bigint generated always as identity primary key,
    timestamp timestamptz not null,
    level text not null,
    message text not null,
    logger text,
    pipeline_name text,
    run_id text,
    stage text,
    module text,
    function text,
    line integer,
    metadata jsonb not null default '{}'
);

create index if not exists pipeline_logs_run_idx
on ops.pipeline_logs (pipeline_name, run_id, timestamp);

-- One row per pipeline run (a DAG run, a CLI day, a file load).
create table if not exists ops.pipeline_runs (
    id bigint generated always as identity primary key,
    pipeline_name text not null,
    run_id text not null,
    status text not null check (status in ('running', 'success', 'failed', 'skipped')),
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    duration_ms bigint,
    records_in bigint not null default 0,
    records_out bigint not null default 0,
    records_rejected bigint not null default 0,
    error_rate double precision generated always as (
        case when records_in > 0 then records_rejected::double precision / records_in else 0 end
    ) stored,
    error text,
    metadata jsonb not null default '{}',
    unique (pipeline_name, run_id)
);

create index if not exists pipeline_runs_recent_idx on ops.pipeline_runs (pipeline_name, started_at desc);

-- Input rows that could not be used, with where they came from and why.
create table if not exists ops.rejected_rows (
    id bigint generated always as identity primary key,
    pipeline_name text not null,
    source text not null,
    line integer not null,
    raw text not null,
    reason text not null,
    unit_key text not null,
    run_id text,
    rejected_at timestamptz not null default now(),
    unique (pipeline_name, source, line)
);

create index if not exists rejected_rows_unit_idx on ops.rejected_rows (pipeline_name, unit_key);

-- One row per unit other than a month (a day, a week, any key) a pipeline has published,
-- with the fingerprint of its input; months keep ops.processed_months.
create table if not exists ops.processed_units (
    id bigint generated always as identity primary key,
    pipeline_name text not null,
    unit_key text not null,
    unit_kind text not null,
    status text not null check (status in ('in_progress', 'completed', 'failed')),
    input_fingerprint text,
    input_rows bigint,
    rows_written bigint,
    error text,
    processed_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (pipeline_name, unit_key)
);

-- Where a log record came from in Airflow, for links to the task log.
alter table ops.pipeline_logs
add column if not exists dag_id text,
add column if not exists task_id text,
add column if not exists map_index integer,
add column if not exists try_number integer;

-- The gold ledgers keyed by what a unit publishes (its target: a model's table, or its table
-- files), so that several gold operators of one pipeline keep a row each; and the fingerprint
-- of the logic (SQL files and spec) a unit was published with. Rows written before targets had
-- target '' and are adopted by the first publisher of their unit (reliable_etl.gold.publish).
alter table ops.processed_months
add column if not exists target text not null default '',
add column if not exists logic_fingerprint text;
alter table ops.processed_months drop constraint if exists processed_months_pipeline_name_month_key_key;
create unique index if not exists processed_months_pipeline_target_month_key
on ops.processed_months (pipeline_name, target, month_key);

alter table ops.processed_units
add column if not exists target text not null default '',
add column if not exists logic_fingerprint text;
alter table ops.processed_units drop constraint if exists processed_units_pipeline_name_unit_key_key;
create unique index if not exists processed_units_pipeline_target_unit_key
on ops.processed_units (pipeline_name, target, unit_key);

-- Write-audit-publish: every check of every unit audited (gold units, nightly files), with its numbers.
-- A unit failing an error-severity check was not published (published false); warnings were published
-- and reported.
create table if not exists ops.check_results (
    id bigint generated always as identity primary key,
    pipeline_name text not null,
    target text not null,
    unit_key text not null,
    check_name text not null,
    severity text not null check (severity in ('error', 'warning')),
    passed boolean not null,
    published boolean not null,
    details json not null default '{}',  -- json, not jsonb: the numbers in the check's column order
    run_id text,
    checked_at timestamptz not null default now()
);

create index if not exists check_results_check_idx
on ops.check_results (pipeline_name, target, check_name, checked_at desc);
