-- Write a job's state and checkpoint, only if its status is still the one we read: a job
-- paused by hand meanwhile is not overwritten (no row comes back). The trigger
-- ops.sync_jobs_transition refuses illegal status changes and logs legal ones.
update ops.sync_jobs
set
    status = %(status)s,
    status_reason = %(status_reason)s,
    needs_attention = %(needs_attention)s,
    run_id = %(run_id)s,
    config_hash = %(config_hash)s,
    mode = %(mode)s,
    phase = %(phase)s,
    cursor = %(cursor)s,
    page_size = %(page_size)s,
    keyset_ts = %(keyset_ts)s,
    keyset_ids = %(keyset_ids)s,
    walk_lower = %(walk_lower)s,
    walk_upper = %(walk_upper)s,
    walk_top_ts = %(walk_top_ts)s,
    walk_top_id = %(walk_top_id)s,
    watermark_ts = %(watermark_ts)s,
    watermark_id = %(watermark_id)s,
    pages = %(pages)s,
    items = %(items)s,
    skipped = %(skipped)s,
    warnings = %(warnings)s,
    api_cost = %(api_cost)s,
    rate_remaining = %(rate_remaining)s,
    total_processed = %(total_processed)s,
    api_count = %(api_count)s,
    db_count = %(db_count)s,
    reconciled_at = %(reconciled_at)s,
    last_error = %(last_error)s,
    next_retry_at = %(next_retry_at)s,
    pass_started_at = %(pass_started_at)s,
    last_sync_at = %(last_sync_at)s,
    last_sweep_at = %(last_sweep_at)s
where
    service = %(service)s
    and entity = %(entity)s
    and status = %(expected_status)s
returning updated_at, status_changed_at;
