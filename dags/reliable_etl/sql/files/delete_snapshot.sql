-- Forget a dropped snapshot.
delete from ops.file_snapshots
where snapshot = %(snapshot)s;
