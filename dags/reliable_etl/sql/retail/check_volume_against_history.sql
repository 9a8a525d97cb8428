-- Audit before publishing (a warning): the month's lines against the median of up to six earlier
-- months; a month that drops or jumps beyond the tolerance is reported (published all the same).
-- The tolerance is set here: editing it is a change of logic, so every month is audited again.
with settings as (
    select 0.5::numeric as tolerance  -- the share of the median a month may drift by
),

history as (
    select g.lines
    from gold.fact_sales_monthly as g
    where g.month_key < %(month_key)s
    order by g.month_key desc
    limit 6
),

baseline as (
    select
        percentile_cont(0.5) within group (order by h.lines) as median_lines,
        count(*) as months
    from history as h
),

current_month as (
    select coalesce(max(g.lines), 0) as lines
    from gold.fact_sales_monthly as g
    where g.month_key = %(month_key)s
)

select
    b.months < 3
    or abs(c.lines - b.median_lines) <= s.tolerance * b.median_lines as passed,
    c.lines,
    round(b.median_lines::numeric, 1) as median_lines_before,
    b.months as months_compared,
    s.tolerance
from current_month as c
cross join baseline as b
cross join settings as s;
