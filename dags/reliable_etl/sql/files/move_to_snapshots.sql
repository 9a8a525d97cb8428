-- The previous contents become a snapshot: the table itself, moved and renamed, not copied
-- (composed: {table}, {moved}, {snapshot}).
alter table {table} set schema files_snapshots;
alter table {moved} rename to {snapshot};
