-- The partition of one day (identifiers composed with psycopg.sql, the day bound as a literal).
create table if not exists {partition} partition of bronze.retail_sales (
    business_date default {day}
) for values in ({day});
