-- A reject of a day that failed validation as a whole (kept for diagnosis).
insert into ops.rejected_rows as r (pipeline_name, source, line, raw, reason, unit_key, run_id)
values ('retail', %(source)s, %(line)s, %(raw)s, %(reason)s, %(day)s, %(run_id)s)
on conflict (pipeline_name, source, line) do update
    set
        raw = excluded.raw,
        reason = excluded.reason,
        unit_key = excluded.unit_key,
        run_id = excluded.run_id,
        rejected_at = now();
