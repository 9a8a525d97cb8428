-- What the ledger says of a month: its status and the fingerprints (input, logic) it was published
-- from. Its own row first; a row from before targets (target '') is the month's until adopted.
select
    status,
    input_fingerprint,
    logic_fingerprint
from ops.processed_months
where
    pipeline_name = %(pipeline_name)s
    and month_key = %(unit_key)s
    and target in (%(target)s, '')
order by target desc
limit 1;
