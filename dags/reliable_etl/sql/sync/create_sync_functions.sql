-- The trigger that enforces the job state machine and logs every transition.
-- Runs after create_sync_schema.sql.

create or replace function ops.sync_jobs_transition() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status then
        if not exists (
            select 1 from ops.sync_allowed_transitions as a
            where a.from_status = old.status and a.to_status = new.status
        ) then
            raise exception 'illegal sync job transition % -> % for %:%',
                old.status, new.status, old.service, old.entity
                using errcode = 'check_violation';
        end if;
        insert into ops.sync_transitions (service, entity, from_status, to_status, run_id, reason)
        values (new.service, new.entity, old.status, new.status, new.run_id, new.status_reason);
        new.status_changed_at := clock_timestamp();
    end if;
    new.updated_at := clock_timestamp();
    return new;
end
$$;

create or replace trigger sync_jobs_transition
before update on ops.sync_jobs
for each row execute function ops.sync_jobs_transition();
