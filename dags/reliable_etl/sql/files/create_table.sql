-- A table of the layout's columns plus source_line (composed: {table}, {columns}).
create table {table} ({columns});
