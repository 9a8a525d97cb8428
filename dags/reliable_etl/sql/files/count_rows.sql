-- Rows of a table (composed: {table}).
select count(*) from {table};
