-- What the ledger says of a month: its status and the input fingerprint it was published from.
select
    status,
    input_fingerprint
from ops.processed_months
where pipeline_name = %(pipeline_name)s and month_key = %(unit_key)s;
