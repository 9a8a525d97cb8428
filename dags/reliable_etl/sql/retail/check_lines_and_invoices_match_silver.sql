-- Audit before publishing: gold's lines and invoices for the month equal silver's.
with silver_month as (
    select
        count(*) as lines,
        count(distinct s.invoice_no) as invoices
    from silver.fact_sales_daily as s
    where s.sales_date >= %(month_start)s and s.sales_date < %(month_end)s
),

gold_month as (
    select
        g.lines,
        g.invoices
    from gold.fact_sales_monthly as g
    where g.month_key = %(month_key)s
)

select
    coalesce(g.lines, 0) = s.lines and coalesce(g.invoices, 0) = s.invoices as passed,
    coalesce(g.lines, 0) as gold_lines,
    s.lines as silver_lines,
    coalesce(g.invoices, 0) as gold_invoices,
    s.invoices as silver_invoices
from silver_month as s
left join gold_month as g on true;
