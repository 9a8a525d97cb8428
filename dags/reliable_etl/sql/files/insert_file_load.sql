-- What happened to one file in one run.
insert into ops.file_loads (
    run_id, file_name, sha256, size_bytes, table_name, status,
    records, loaded, rejected, error_rate, snapshot, error
)
values (
    %(run_id)s, %(file_name)s, %(sha256)s, %(size_bytes)s, %(table_name)s, %(status)s,
    %(records)s, %(loaded)s, %(rejected)s, %(error_rate)s, %(snapshot)s, %(error)s
)
returning id;
