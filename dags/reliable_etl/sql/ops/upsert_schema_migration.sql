-- A schema script was applied from the text with this hash.
insert into ops.schema_migrations as migrations (script, sha256, applied_at)
values (%(script)s, %(sha256)s, clock_timestamp())
on conflict (script) do update
    set
        sha256 = excluded.sha256,
        applied_at = excluded.applied_at;
