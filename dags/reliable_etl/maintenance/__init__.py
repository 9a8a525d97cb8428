"""Maintenance of the bundle's services and the freshness watchdog.

One module per role: ``health`` (services up?), ``cleanup`` (retention), ``optimize`` (VACUUM,
REINDEX by statistics), ``backup`` (pg_dump with a manifest), ``analytics`` (the DuckDB mirror
of gold), ``watchdog`` (pipelines behind? repair), ``alerts`` (de-duplicated notifications,
Deadline Alerts), ``tasks`` (DAG glue). Every job returns a typed result whose ``as_dict()`` is
the seed system's shape: a service that is down is a value in it, never an exception.
"""
