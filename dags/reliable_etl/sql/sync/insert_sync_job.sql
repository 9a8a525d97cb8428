-- The job row of an entity, created NOT_STARTED the first time the entity is synced.
insert into ops.sync_jobs (service, entity)
values (%(service)s, %(entity)s)
on conflict (service, entity) do nothing;
