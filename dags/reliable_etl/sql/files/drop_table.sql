-- Drop a table (composed: {table}).
drop table if exists {table};
