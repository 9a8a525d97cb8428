-- The scripts applied so far and the hash of the text each was applied from.
select
    migrations.script,
    migrations.sha256
from ops.schema_migrations as migrations;
