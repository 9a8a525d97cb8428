-- The layout's primary key on a freshly loaded table (composed: {table}, {key}).
alter table {table} add primary key ({key});
