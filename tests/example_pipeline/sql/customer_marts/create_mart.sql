create schema if not exists mart;
create table if not exists mart.day_customers (
    sales_date date not null,
    customer_id text not null,
    country text not null,
    lines bigint not null,
    net_amount numeric(18, 3) not null,
    primary key (sales_date, customer_id, country)
)
