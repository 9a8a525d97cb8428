create table if not exists gold.day_totals (
    sales_date date primary key,
    customers bigint not null,
    net_amount numeric(18, 3) not null
);
comment on table gold.day_totals is 'example: the day''s customers and net amount (daily_customer_marts)';
