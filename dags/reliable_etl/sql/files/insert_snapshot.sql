-- Register a snapshot of a table.
insert into ops.file_snapshots (snapshot, table_name, reason, row_count)
values (%(snapshot)s, %(table_name)s, %(reason)s, %(row_count)s);
