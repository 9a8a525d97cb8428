-- Give a loaded table its name (composed: {table}, {new_name}).
alter table {table} rename to {new_name};
