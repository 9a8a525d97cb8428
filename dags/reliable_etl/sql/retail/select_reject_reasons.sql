select
    regexp_replace(reason, ': .*', '') as reason,
    count(*) as row_count
from ops.rejected_rows
where pipeline_name = 'retail'
group by 1
order by 2 desc, 1;
