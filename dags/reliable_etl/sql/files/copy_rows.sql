-- The parsed rows, in PostgreSQL's text COPY format (composed: {table}, {columns}).
copy {table} ({columns}) from stdin;
