-- One job, every column (the sync keeps an exact copy of it in memory).
select *
from ops.sync_jobs
where service = %(service)s and entity = %(entity)s;
