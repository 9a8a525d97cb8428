-- One batch of sync job state changes older than the cutoff.
delete from ops.sync_transitions
where id in (
    select t.id from ops.sync_transitions as t
    where t.at < %(cutoff)s
    order by t.id
    limit %(batch_size)s
);
