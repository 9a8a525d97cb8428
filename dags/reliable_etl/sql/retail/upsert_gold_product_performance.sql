-- Per product and month (product lines only), ranked by net amount.
with month_lines as (
    select *
    from silver.fact_sales_daily
    where sales_date >= %(month_start)s and sales_date < %(month_end)s and is_product
),

products as (
    select
        %(month_key)s::text as month_key,
        stock_code,
        -- the most frequent description of the code in the month
        mode() within group (order by description) as description,
        count(distinct invoice_no)::integer as invoices,
        count(distinct customer_id)::integer as customers,
        coalesce(sum(quantity) filter (where quantity > 0), 0)::bigint as units_sold,
        coalesce(-sum(quantity) filter (where is_return), 0)::bigint as units_returned,
        coalesce(sum(amount) filter (where amount > 0), 0)::numeric(18, 3) as gross_sales,
        coalesce(sum(amount) filter (where is_return), 0)::numeric(18, 3) as returns_amount,
        sum(amount)::numeric(18, 3) as net_amount
    from month_lines
    group by stock_code
),

ranked as (
    select
        products.*,
        rank() over (order by products.net_amount desc, products.stock_code asc)::integer as net_rank
    from products
),

removed as (
    delete from gold.fact_product_performance as g
    where
        g.month_key = %(month_key)s
        and not exists (
            select 1 from ranked as r
            where r.stock_code = g.stock_code
        )
    returning 1
),

written as (
    insert into gold.fact_product_performance as g
    select * from ranked
    on conflict (month_key, stock_code) do update
        set
            description = excluded.description,
            invoices = excluded.invoices,
            customers = excluded.customers,
            units_sold = excluded.units_sold,
            units_returned = excluded.units_returned,
            gross_sales = excluded.gross_sales,
            returns_amount = excluded.returns_amount,
            net_amount = excluded.net_amount,
            net_rank = excluded.net_rank
        where (
            g.description, g.invoices, g.customers, g.units_sold, g.units_returned,
            g.gross_sales, g.returns_amount, g.net_amount, g.net_rank
        ) is distinct from (
            excluded.description, excluded.invoices, excluded.customers, excluded.units_sold,
            excluded.units_returned, excluded.gross_sales, excluded.returns_amount,
            excluded.net_amount, excluded.net_rank
        )
    returning 1
)

select (select count(*) from removed) + (select count(*) from written) as rows_written;
