-- Retail layers: bronze (as delivered), silver (typed, validated lines), gold (monthly marts).
-- Idempotent: safe to run at every start.

create schema if not exists bronze;
create schema if not exists silver;
create schema if not exists gold;

-- A CSV rendering of a row, for rejected_rows.raw (quotes only where needed).
create or replace function ops.csv_line(variadic fields text[]) returns text
language sql immutable parallel safe as $$
    select string_agg(
        case when f ~ '[,"\n\r]' then '"' || replace(f, '"', '""') || '"' else coalesce(f, '') end,
        ',' order by n
    )
    from unnest(fields) with ordinality as u (f, n)
$$;

-- One row per landing file loaded into bronze: re-delivering the same bytes is a no-op.
create table if not exists bronze.retail_files (
    business_date date primary key,
    file_name text not null,
    sha256 text not null,
    size_bytes bigint not null,
    row_count bigint not null,
    loaded_at timestamptz not null default now(),
    run_id text
);

-- Rows exactly as delivered, one list partition per day (see create_bronze_day.sql): replacing
-- a day is a TRUNCATE of its partition, and COPY into it is as fast as into a bare table.
-- record_no keeps file order (a session's cached sequence values only grow).
create sequence if not exists bronze.retail_sales_record_seq cache 1000;

create table if not exists bronze.retail_sales (
    business_date date not null,
    record_no bigint not null default nextval('bronze.retail_sales_record_seq'),
    invoice_no text,
    stock_code text,
    description text,
    quantity text,
    invoice_date text,
    unit_price text,
    customer_id text,
    country text
) partition by list (business_date);

-- Typed, validated sales lines; one row per accepted line of the day's file.
create table if not exists silver.fact_sales_daily (
    sales_date date not null,
    source_line integer not null,
    invoice_no text not null,
    stock_code text not null,
    description text,
    quantity integer not null,
    unit_price numeric(12, 3) not null,
    amount numeric(16, 3) not null,
    invoiced_at timestamp not null,
    customer_id bigint,
    country text not null,
    is_return boolean not null,       -- cancellation invoices (InvoiceNo 'C...')
    is_product boolean not null,      -- false for postage, fees, manual adjustments
    primary key (sales_date, source_line)
);

-- Per-day fingerprint of silver, so a month's input fingerprint costs ~30 rows to read.
create table if not exists silver.day_fingerprint (
    sales_date date primary key,
    source_sha256 text not null,
    row_count bigint not null,
    net_amount numeric(18, 3) not null,
    fingerprint text not null,
    updated_at timestamptz not null default now()
);

create table if not exists gold.fact_sales_monthly (
    month_key text primary key,
    year integer not null,
    month integer not null,
    invoices integer not null,
    cancelled_invoices integer not null,
    customers integer not null,
    countries integer not null,
    lines bigint not null,
    units_sold bigint not null,
    units_returned bigint not null,
    gross_sales numeric(18, 3) not null,      -- positive product and service lines
    returns_amount numeric(18, 3) not null,   -- cancellation lines (negative)
    adjustments_amount numeric(18, 3) not null, -- other negative lines (stock write-offs)
    net_amount numeric(18, 3) not null,
    input_fingerprint text not null
);

create table if not exists gold.fact_product_performance (
    month_key text not null,
    stock_code text not null,
    description text,
    invoices integer not null,
    customers integer not null,
    units_sold bigint not null,
    units_returned bigint not null,
    gross_sales numeric(18, 3) not null,
    returns_amount numeric(18, 3) not null,
    net_amount numeric(18, 3) not null,
    net_rank integer not null,
    primary key (month_key, stock_code)
);

create table if not exists gold.fact_country_sales (
    month_key text not null,
    country text not null,
    invoices integer not null,
    customers integer not null,
    units_sold bigint not null,
    net_amount numeric(18, 3) not null,
    share_of_net numeric(9, 6),
    primary key (month_key, country)
);

-- The rules (validation SQL, silver's shape) each day was loaded with: a day loaded with other
-- rules than the current ones is stale (reliable_etl.retail.load.stale_days).
alter table silver.day_fingerprint add column if not exists logic_fingerprint text;
