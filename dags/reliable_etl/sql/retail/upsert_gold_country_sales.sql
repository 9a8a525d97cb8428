-- Per country and month, with the country's share of the month's net amount.
with month_lines as (
    select *
    from silver.fact_sales_daily
    where sales_date >= %(month_start)s and sales_date < %(month_end)s
),

countries as (
    select
        %(month_key)s::text as month_key,
        country,
        count(distinct invoice_no)::integer as invoices,
        count(distinct customer_id)::integer as customers,
        coalesce(sum(quantity) filter (where quantity > 0), 0)::bigint as units_sold,
        sum(amount)::numeric(18, 3) as net_amount
    from month_lines
    group by country
),

shares as (
    select
        countries.*,
        round(countries.net_amount / nullif(sum(countries.net_amount) over (), 0), 6)::numeric(9, 6) as share_of_net
    from countries
),

removed as (
    delete from gold.fact_country_sales as g
    where
        g.month_key = %(month_key)s
        and not exists (
            select 1 from shares as s
            where s.country = g.country
        )
    returning 1
),

written as (
    insert into gold.fact_country_sales as g
    select * from shares
    on conflict (month_key, country) do update
        set
            invoices = excluded.invoices,
            customers = excluded.customers,
            units_sold = excluded.units_sold,
            net_amount = excluded.net_amount,
            share_of_net = excluded.share_of_net
        where (g.invoices, g.customers, g.units_sold, g.net_amount, g.share_of_net)
        is distinct from
        (excluded.invoices, excluded.customers, excluded.units_sold, excluded.net_amount, excluded.share_of_net)
    returning 1
)

select (select count(*) from removed) + (select count(*) from written) as rows_written;
