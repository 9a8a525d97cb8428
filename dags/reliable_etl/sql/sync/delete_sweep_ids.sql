-- Ids a sweep listed on an earlier page that the API has since said do not exist: not listed after all.
delete from ops.sync_sweep_ids
where
    service = %(service)s
    and entity = %(entity)s
    and id = any(%(ids)s::text[]);
