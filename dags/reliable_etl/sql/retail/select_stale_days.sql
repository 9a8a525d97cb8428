-- Loaded days whose validation rules or silver shape changed since they were loaded (or that were
-- loaded before the rules were recorded), oldest first: `etl retail run --stale` loads them again.
select f.sales_date
from silver.day_fingerprint as f
where f.logic_fingerprint is distinct from %(logic_fingerprint)s
order by f.sales_date;
