-- The day's bronze rows, numbered as in the file and checked field by field.
-- reject_reason is null for a usable row; the first failed rule names the problem.
create temp table retail_day_rows on commit drop as
with numbered as (
    select
        sales.*,
        (row_number() over (order by sales.record_no) + 1)::integer as line,
        nullif(trim(sales.invoice_no), '') as invoice_no_t,
        nullif(trim(sales.stock_code), '') as stock_code_t,
        nullif(trim(sales.quantity), '') as quantity_t,
        nullif(trim(sales.unit_price), '') as unit_price_t,
        nullif(trim(sales.customer_id), '') as customer_id_t,
        nullif(trim(sales.country), '') as country_t,
        -- ISO 'YYYY-MM-DD HH:MM[:SS]' or the original UCI export's 'M/D/YYYY H:MM'
        coalesce(
            -- a plain match and substr(): regexp_match() with groups costs ~0.1 ms a row
            case
                when trim(sales.invoice_date) ~ '^\d{4}-\d{2}-\d{2}[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$'
                    then array[
                        substr(trim(sales.invoice_date), 1, 4), substr(trim(sales.invoice_date), 6, 2),
                        substr(trim(sales.invoice_date), 9, 2), substr(trim(sales.invoice_date), 12, 2),
                        substr(trim(sales.invoice_date), 15, 2), nullif(substr(trim(sales.invoice_date), 18, 2), '')
                    ]
            end,
            (
                select array[m[3], lpad(m[1], 2, '0'), lpad(m[2], 2, '0'), lpad(m[4], 2, '0'), m[5], null]
                from
                    regexp_match(
                        trim(sales.invoice_date), '^(\d{1,2})/(\d{1,2})/(\d{4}) ([01]?\d|2[0-3]):([0-5]\d)$'
                    ) as m
                where m is not null  -- no match: no row, so ts stays null and the row is rejected
            )
        ) as ts
    from bronze.retail_sales as sales
    where sales.business_date = %(day)s
),

-- materialized: the checks run once per row, not once per reference
checked as materialized (
    select
        numbered.*,
        case
            when numbered.invoice_no_t is null then 'missing InvoiceNo'
            when numbered.stock_code_t is null then 'missing StockCode'
            when numbered.quantity_t is null then 'missing Quantity'
            when numbered.quantity_t !~ '^[+-]?\d{1,9}$'
                then 'Quantity is not a whole number: ' || quote_literal(numbered.quantity_t)
            when numbered.unit_price_t is null then 'missing UnitPrice'
            when numbered.unit_price_t !~ '^[+-]?(\d{1,9}(\.\d{0,6})?|\.\d{1,6})$'
                then 'UnitPrice is not a number: ' || quote_literal(numbered.unit_price_t)
            when numbered.ts is null
                then 'InvoiceDate is not YYYY-MM-DD HH:MM[:SS]: ' || coalesce(quote_literal(numbered.invoice_date), 'empty')
            when
                numbered.ts[1]::integer = 0
                or numbered.ts[2]::integer not between 1 and 12
                or numbered.ts[3]::integer not between 1 and extract(
                    day from make_date(greatest(numbered.ts[1]::integer, 1), 1, 1)
                    + make_interval(months => numbered.ts[2]::integer) - interval '1 day'
                )
                then 'InvoiceDate is not a calendar date: ' || quote_literal(numbered.invoice_date)
            when make_date(numbered.ts[1]::integer, numbered.ts[2]::integer, numbered.ts[3]::integer) <> %(day)s
                then
                    'row dated ' || numbered.ts[1] || '-' || numbered.ts[2] || '-' || numbered.ts[3]
                    || ' in the file for ' || %(day)s::text
            when numbered.customer_id_t is not null and numbered.customer_id_t !~ '^\d{1,12}(\.0+)?$'
                then 'CustomerID is not a number: ' || quote_literal(numbered.customer_id_t)
            when numbered.country_t is null then 'missing Country'
            when numbered.unit_price_t::numeric < 0
                then 'negative UnitPrice (bad-debt adjustment, not a sale)'
        end as reject_reason
    from numbered
)

select
    checked.line,
    checked.reject_reason,
    -- the raw line only where it is needed: for a reject
    case
        when checked.reject_reason is not null
            then ops.csv_line(
                checked.invoice_no, checked.stock_code, checked.description, checked.quantity,
                checked.invoice_date, checked.unit_price, checked.customer_id, checked.country
            )
    end as raw,
    checked.invoice_no_t as invoice_no,
    checked.stock_code_t as stock_code,
    nullif(trim(checked.description), '') as description,
    case when checked.reject_reason is null then checked.quantity_t::integer end as quantity,
    case when checked.reject_reason is null then checked.unit_price_t::numeric(12, 3) end as unit_price,
    case
        when checked.reject_reason is null
            then make_timestamp(
                checked.ts[1]::integer, checked.ts[2]::integer, checked.ts[3]::integer,
                checked.ts[4]::integer, checked.ts[5]::integer, coalesce(checked.ts[6], '0')::integer
            )
    end as invoiced_at,
    case when checked.reject_reason is null then checked.customer_id_t::numeric::bigint end as customer_id,
    checked.country_t as country
from checked;
