with totals as (
    select
        %(day)s::date as sales_date,
        count(distinct m.customer_id)::bigint as customers,
        coalesce(sum(m.net_amount), 0)::numeric(18, 3) as net_amount
    from mart.day_customers as m
    where m.sales_date = %(day)s
    having count(*) > 0
),

removed as (
    delete from gold.day_totals as g
    where g.sales_date = %(day)s and not exists (select 1 from totals)
    returning 1
),

written as (
    insert into gold.day_totals as g
    select * from totals
    on conflict (sales_date) do update
        set customers = excluded.customers, net_amount = excluded.net_amount
        where (g.customers, g.net_amount) is distinct from (excluded.customers, excluded.net_amount)
    returning 1
)

select (select count(*) from written) + (select count(*) from removed)
