-- Monthly totals. net_amount covers every accepted line: sales, returns, fees, adjustments.
with month_lines as (
    select *
    from silver.fact_sales_daily
    where sales_date >= %(month_start)s and sales_date < %(month_end)s
),

totals as (
    select
        %(month_key)s::text as month_key,
        %(year)s::integer as year,
        %(month)s::integer as month,
        count(distinct invoice_no)::integer as invoices,
        count(distinct invoice_no) filter (where is_return)::integer as cancelled_invoices,
        count(distinct customer_id)::integer as customers,
        count(distinct country)::integer as countries,
        count(*)::bigint as lines,
        coalesce(sum(quantity) filter (where quantity > 0), 0)::bigint as units_sold,
        coalesce(-sum(quantity) filter (where is_return), 0)::bigint as units_returned,
        coalesce(sum(amount) filter (where amount > 0), 0)::numeric(18, 3) as gross_sales,
        coalesce(sum(amount) filter (where is_return), 0)::numeric(18, 3) as returns_amount,
        coalesce(sum(amount) filter (where amount < 0 and not is_return), 0)::numeric(18, 3) as adjustments_amount,
        coalesce(sum(amount), 0)::numeric(18, 3) as net_amount,
        %(fingerprint)s::text as input_fingerprint
    from month_lines
    having count(*) > 0
),

removed as (
    delete from gold.fact_sales_monthly as g
    where g.month_key = %(month_key)s and not exists (select 1 from totals)
    returning 1
),

written as (
    insert into gold.fact_sales_monthly as g
    select * from totals
    on conflict (month_key) do update
        set
            invoices = excluded.invoices,
            cancelled_invoices = excluded.cancelled_invoices,
            customers = excluded.customers,
            countries = excluded.countries,
            lines = excluded.lines,
            units_sold = excluded.units_sold,
            units_returned = excluded.units_returned,
            gross_sales = excluded.gross_sales,
            returns_amount = excluded.returns_amount,
            adjustments_amount = excluded.adjustments_amount,
            net_amount = excluded.net_amount,
            input_fingerprint = excluded.input_fingerprint
        where (
            g.invoices, g.cancelled_invoices, g.customers, g.countries, g.lines, g.units_sold,
            g.units_returned, g.gross_sales, g.returns_amount, g.adjustments_amount, g.net_amount,
            g.input_fingerprint
        ) is distinct from (
            excluded.invoices, excluded.cancelled_invoices, excluded.customers, excluded.countries,
            excluded.lines, excluded.units_sold, excluded.units_returned, excluded.gross_sales,
            excluded.returns_amount, excluded.adjustments_amount, excluded.net_amount,
            excluded.input_fingerprint
        )
    returning 1
)

select (select count(*) from removed) + (select count(*) from written) as rows_written;
