select
    count(*) as total,
    count(*) filter (where reject_reason is not null) as rejected
from retail_day_rows;
