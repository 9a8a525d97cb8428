-- One page of ids the API still lists for an entity.
insert into ops.sync_sweep_ids (service, entity, id)
select
    %(service)s,
    %(entity)s,
    listed.id
from unnest(%(ids)s::text[]) as listed (id)
on conflict do nothing;
