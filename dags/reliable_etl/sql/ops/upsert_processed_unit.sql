-- A unit published from the input and logic with these fingerprints (same transaction as its gold rows).
insert into ops.processed_units as p (
    pipeline_name, target, unit_key, unit_kind, status, input_fingerprint, logic_fingerprint, input_rows, rows_written
)
values (
    %(pipeline_name)s, %(target)s, %(unit_key)s, %(unit_kind)s, 'completed',
    %(fingerprint)s, %(logic_fingerprint)s, %(input_rows)s, %(rows_written)s
)
on conflict (pipeline_name, target, unit_key) do update
    set
        status = 'completed',
        unit_kind = excluded.unit_kind,
        input_fingerprint = excluded.input_fingerprint,
        logic_fingerprint = excluded.logic_fingerprint,
        input_rows = excluded.input_rows,
        rows_written = excluded.rows_written,
        error = null,
        updated_at = now();
