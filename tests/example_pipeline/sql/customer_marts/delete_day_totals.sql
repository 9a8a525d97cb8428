with removed as (
    delete from gold.day_totals as g where g.sales_date = %(day)s returning 1
)

select count(*) from removed
