-- The server's version: its major number picks the pg_dump and pg_restore to use.
select
    current_setting('server_version_num')::integer as version_num,
    current_setting('server_version') as version;
