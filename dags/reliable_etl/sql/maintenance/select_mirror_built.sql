-- Has the analytics mirror ever been built? (A fresh deployment's has not: not a failure, a switch to turn on.)
select count(*) > 0 as built
from ops.maintenance_runs as m
where m.job = 'analytics_mirror' and m.status = 'success';
