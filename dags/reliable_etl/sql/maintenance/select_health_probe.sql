-- What the health check asks the warehouse: is it up, which version, is it a standby.
select
    current_setting('server_version_num')::integer as version_num,
    pg_is_in_recovery() as in_recovery;
