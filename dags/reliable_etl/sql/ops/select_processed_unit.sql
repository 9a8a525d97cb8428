-- What the ledger says of a unit: its status and the input fingerprint it was published from.
select
    status,
    input_fingerprint
from ops.processed_units
where pipeline_name = %(pipeline_name)s and unit_key = %(unit_key)s;
