-- Tables to VACUUM (ANALYZE), chosen by their statistics: more dead tuples than autovacuum's
-- rule (50 + 0.2 * reltuples), never analyzed while holding data, or modified since the last
-- analyze beyond autoanalyze's rule (50 + 0.1 * reltuples). "Never analyzed" is pg_class's
-- reltuples = -1 (before the first VACUUM or ANALYZE): it survives a crash, which resets the
-- counters of pg_stat_user_tables.
with stats as (
    select
        s.schemaname as schema_name,
        s.relname as table_name,
        s.n_dead_tup,
        s.n_mod_since_analyze,
        greatest(c.reltuples, 0)::bigint as reltuples,
        c.reltuples < 0 and pg_relation_size(c.oid) > 0 as never_analyzed
    from pg_stat_user_tables as s
    inner join pg_class as c on s.relid = c.oid
    where c.relkind in ('r', 'm')
)

select
    schema_name,
    table_name,
    n_dead_tup,
    reltuples,
    n_mod_since_analyze,
    case
        when n_dead_tup > 50 + 0.2 * reltuples then 'dead tuples above 50 + 0.2 * reltuples'
        when never_analyzed then 'never analyzed'
        else 'modified since the last analyze above 50 + 0.1 * reltuples'
    end as reason
from stats
where
    n_dead_tup > 50 + 0.2 * reltuples
    or never_analyzed
    or n_mod_since_analyze > 50 + 0.1 * reltuples
order by n_dead_tup desc, schema_name asc, table_name asc;
