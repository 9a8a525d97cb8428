-- Maintenance jobs and the freshness watchdog: their results and the alert state.
-- Idempotent: safe to run again.

create schema if not exists ops;

-- One row per run of a maintenance job (health_check, cleanup_old_data, optimize_database,
-- backup_critical_data, analytics_mirror, watchdog): the result in the job's dict shape.
create table if not exists ops.maintenance_runs (
    id bigint generated always as identity primary key,
    job text not null,
    run_id text,
    status text not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    duration_ms bigint,
    result jsonb not null default '{}'
);

create index if not exists maintenance_runs_job_idx on ops.maintenance_runs (job, finished_at desc);

-- One row per alert condition (a service down, a pipeline behind, a job failing): notified
-- once when it starts firing and once when it resolves, however many checks see it meanwhile.
create table if not exists ops.alert_state (
    alert_key text primary key,
    firing boolean not null default false,
    consecutive_failures integer not null default 0,
    first_failed_at timestamptz,
    last_failed_at timestamptz,
    fired_at timestamptz,
    resolved_at timestamptz,
    last_message text,
    notifications integer not null default 0,
    updated_at timestamptz not null default now()
);
