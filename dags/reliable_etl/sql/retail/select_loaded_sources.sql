-- Every loaded day and the sha256 of the landing file it was loaded from, oldest first.
select
    f.sales_date,
    f.source_sha256
from silver.day_fingerprint as f
order by f.sales_date;
