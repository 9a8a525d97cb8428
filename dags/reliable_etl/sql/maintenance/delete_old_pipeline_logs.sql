-- One batch of structured logs older than the cutoff.
delete from ops.pipeline_logs
where id in (
    select l.id from ops.pipeline_logs as l
    where l.timestamp < %(cutoff)s
    order by l.id
    limit %(batch_size)s
);
