-- The ledger of applied schema scripts: read first by every bootstrap, so a current schema
-- costs one query and takes no lock on a live table.
create schema if not exists ops;

create table if not exists ops.schema_migrations (
    script text primary key,
    sha256 text not null,
    applied_at timestamptz not null default now()
);
