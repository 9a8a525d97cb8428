-- Audit before publishing: gold's lines for the month equal silver's, as each day's load recorded
-- them (silver.day_fingerprint), and its invoices the distinct invoices of silver's month.
with silver_lines as (
    select coalesce(sum(f.row_count), 0)::bigint as lines
    from silver.day_fingerprint as f
    where f.sales_date >= %(month_start)s and f.sales_date < %(month_end)s
),

silver_invoices as (
    select count(*) as invoices
    from (
        select s.invoice_no  -- grouped, not count(distinct): a hash, not a sort
        from silver.fact_sales_daily as s
        where s.sales_date >= %(month_start)s and s.sales_date < %(month_end)s
        group by s.invoice_no
    ) as distinct_invoices
),

gold_month as (
    select
        g.lines,
        g.invoices
    from gold.fact_sales_monthly as g
    where g.month_key = %(month_key)s
)

select
    coalesce(g.lines, 0) = l.lines and coalesce(g.invoices, 0) = i.invoices as passed,
    coalesce(g.lines, 0) as gold_lines,
    l.lines as silver_lines,
    coalesce(g.invoices, 0) as gold_invoices,
    i.invoices as silver_invoices
from silver_lines as l
cross join silver_invoices as i
left join gold_month as g on true;
