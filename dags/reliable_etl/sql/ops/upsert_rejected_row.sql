-- An input record that could not be used, with where it came from and why (line: its line or number).
insert into ops.rejected_rows (pipeline_name, source, line, raw, reason, unit_key, run_id)
values (%(pipeline_name)s, %(source)s, %(line)s, %(raw)s, %(reason)s, %(unit_key)s, %(run_id)s)
on conflict (pipeline_name, source, line) do update
    set
        raw = excluded.raw,
        reason = excluded.reason,
        run_id = excluded.run_id,
        rejected_at = now();
