-- What the ledger says of a unit: its status and the fingerprints (input, logic) it was published
-- from. Its own row first; a row from before targets (target '') is the unit's until adopted.
select
    status,
    input_fingerprint,
    logic_fingerprint
from ops.processed_units
where
    pipeline_name = %(pipeline_name)s
    and unit_key = %(unit_key)s
    and target in (%(target)s, '')
order by target desc
limit 1;
