-- One batch of rejected input rows older than the cutoff.
delete from ops.rejected_rows
where id in (
    select r.id from ops.rejected_rows as r
    where r.rejected_at < %(cutoff)s
    order by r.id
    limit %(batch_size)s
);
