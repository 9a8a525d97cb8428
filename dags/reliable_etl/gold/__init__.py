"""Gold units: publish one unit of gold tables idempotently (spec: the SQL files; publish: the work)."""
