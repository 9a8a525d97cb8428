-- Primary key values delivered more than once, with their lines (composed: {table}, {key}).
select
    concat_ws(', ', {key}) as key_value,
    array_agg(source_line order by source_line) as lines
from {table}
group by {key}
having count(*) > 1
order by min(source_line)
limit 5;
