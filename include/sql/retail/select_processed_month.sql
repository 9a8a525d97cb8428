select
    status,
    input_fingerprint
from ops.processed_months
where pipeline_name = 'retail' and month_key = %(month_key)s;
