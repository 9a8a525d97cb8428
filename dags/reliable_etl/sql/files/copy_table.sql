-- A new table with the columns, constraints and rows of another (composed: {target}, {source}).
create table {target} (like {source} including all);
insert into {target} select * from {source};
