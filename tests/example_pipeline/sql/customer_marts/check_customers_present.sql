select coalesce(max(g.customers), 0) > 0 as passed, coalesce(max(g.customers), 0) as customers
from gold.day_totals as g
where g.sales_date = %(day)s
