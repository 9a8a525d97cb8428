-- A change of status made by hand (etl sync pause / resume): the trigger checks it.
update ops.sync_jobs
set
    status = %(status)s,
    status_reason = %(reason)s,
    needs_attention = false,
    next_retry_at = null
where
    service = %(service)s
    and entity = %(entity)s
    and status = any(%(from_statuses)s)
returning status;
