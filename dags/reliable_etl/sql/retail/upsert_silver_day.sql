-- Silver for one day: accepted lines upserted by (day, line), lines gone from the file
-- deleted; a re-run over unchanged input writes nothing.
with accepted as (
    select
        %(day)s::date as sales_date,
        line as source_line,
        invoice_no,
        stock_code,
        description,
        quantity,
        unit_price,
        (quantity * unit_price)::numeric(16, 3) as amount,
        invoiced_at,
        customer_id,
        country,
        invoice_no like 'C%%' as is_return,
        -- UCI product codes are five digits (plus a variant letter); gift vouchers and
        -- DCGS party items are products too; POST, DOT, M, BANK CHARGES... are not
        (stock_code ~ '^\d{5}' or stock_code ~ '^(DCGS|gift_)') as is_product
    from retail_day_rows
    where reject_reason is null
),

removed as (
    delete from silver.fact_sales_daily as s
    where
        s.sales_date = %(day)s
        and not exists (
            select 1 from accepted as a
            where a.source_line = s.source_line
        )
    returning 1
),

written as (
    insert into silver.fact_sales_daily as s (
        sales_date, source_line, invoice_no, stock_code, description, quantity, unit_price,
        amount, invoiced_at, customer_id, country, is_return, is_product
    )
    select
        sales_date,
        source_line,
        invoice_no,
        stock_code,
        description,
        quantity,
        unit_price,
        amount,
        invoiced_at,
        customer_id,
        country,
        is_return,
        is_product
    from accepted
    on conflict (sales_date, source_line) do update
        set
            invoice_no = excluded.invoice_no,
            stock_code = excluded.stock_code,
            description = excluded.description,
            quantity = excluded.quantity,
            unit_price = excluded.unit_price,
            amount = excluded.amount,
            invoiced_at = excluded.invoiced_at,
            customer_id = excluded.customer_id,
            country = excluded.country,
            is_return = excluded.is_return,
            is_product = excluded.is_product
        where (
            s.invoice_no, s.stock_code, s.description, s.quantity, s.unit_price, s.invoiced_at,
            s.customer_id, s.country, s.is_return, s.is_product
        ) is distinct from (
            excluded.invoice_no, excluded.stock_code, excluded.description, excluded.quantity,
            excluded.unit_price, excluded.invoiced_at, excluded.customer_id, excluded.country,
            excluded.is_return, excluded.is_product
        )
    returning 1
)

select
    (select count(*) from accepted) as accepted,
    (select count(*) from removed) as deleted,
    (select count(*) from written) as written;
