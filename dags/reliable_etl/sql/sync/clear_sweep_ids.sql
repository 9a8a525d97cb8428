-- Forget the ids collected by an entity's sweep.
delete from ops.sync_sweep_ids
where service = %(service)s and entity = %(entity)s;
