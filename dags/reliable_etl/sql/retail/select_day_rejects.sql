select
    line,
    raw,
    reject_reason
from retail_day_rows
where reject_reason is not null
order by line;
