-- Rename a constraint and its index (composed: {table}, {old}, {new}).
alter table {table} rename constraint {old} to {new};
