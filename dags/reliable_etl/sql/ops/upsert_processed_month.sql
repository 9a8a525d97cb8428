-- A month published from the input with this fingerprint (same transaction as its gold rows).
insert into ops.processed_months as p (
    pipeline_name, month_key, year, month, status, input_fingerprint, input_rows, rows_written
)
values (
    %(pipeline_name)s, %(unit_key)s, %(year)s, %(month)s, 'completed',
    %(fingerprint)s, %(input_rows)s, %(rows_written)s
)
on conflict (pipeline_name, month_key) do update
    set
        status = 'completed',
        input_fingerprint = excluded.input_fingerprint,
        input_rows = excluded.input_rows,
        rows_written = excluded.rows_written,
        error = null,
        updated_at = now();
