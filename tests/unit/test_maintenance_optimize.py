"""optimize_database on real tables: chosen by their statistics, never blocking a writer, partial on outage."""

from __future__ import annotations

import psycopg
import pytest

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.maintenance.optimize import optimize_database


def stats(conn: psycopg.Connection, table: str) -> dict:
    conn.execute("select pg_stat_clear_snapshot()")
    row = conn.execute(
        "select n_dead_tup, vacuum_count, analyze_count from pg_stat_user_tables"
        " where schemaname = 'maint_test' and relname = %s",
        (table,),
    ).fetchone()
    return {"dead": row[0], "vacuums": row[1], "analyzes": row[2]}


def targets(result, kind: str) -> list[str]:
    return [op.target for op in result.operations if op.kind == kind]


@pytest.fixture
def tables(maint_env, conn: psycopg.Connection) -> psycopg.Connection:
    with db.connect(autocommit=True) as setup:  # closed before optimizing: its statistics reach the server
        setup.execute("drop schema if exists maint_test cascade")
        setup.execute("create schema maint_test")
        for name in ("busy", "quiet"):
            setup.execute(f"create table maint_test.{name} (id bigint primary key, v integer not null)")
            setup.execute(f"insert into maint_test.{name} select g, g from generate_series(1, 20000) as g")
    optimize_database()  # settle: every never-analyzed table of the test database gets its statistics
    yield conn
    conn.execute("drop schema if exists maint_test cascade")


def test_a_bulk_update_is_vacuumed_and_untouched_tables_are_left_alone(tables) -> None:
    with db.connect(autocommit=True) as writer:  # closed: its statistics reach the server
        writer.execute("update maint_test.busy set v = v + 1")
    before_busy, before_quiet = stats(tables, "busy"), stats(tables, "quiet")
    assert before_busy["dead"] == 20000
    result = optimize_database(run_id="test")
    data = result.as_dict()
    assert data["status"] == "success", data
    assert "maint_test.busy" in targets(result, "vacuum_analyze")
    assert "maint_test.quiet" not in targets(result, "vacuum_analyze")
    reason = next(op.reason for op in result.operations if op.target == "maint_test.busy")
    assert reason.startswith("dead tuples above 50 + 0.2 * reltuples (20,000 dead")
    after_busy, after_quiet = stats(tables, "busy"), stats(tables, "quiet")
    assert after_busy["dead"] == 0
    assert after_busy["vacuums"] == before_busy["vacuums"] + 1
    assert after_quiet == before_quiet
    assert data["successful_operations"] == data["total_operations"]
    assert data["success_rate"] == 1.0


def test_a_bloated_index_is_rebuilt_concurrently(tables, maint_env) -> None:
    maint_env.setenv("ETL_OPTIMIZE_INDEX_MIN_MB", "0.1")
    settings.cache_clear()
    tables.execute("create index busy_v_idx on maint_test.busy (v)")
    tables.execute("delete from maint_test.busy where id % 10 <> 0")
    tables.execute("vacuum analyze maint_test.busy")
    size = "select pg_relation_size('maint_test.busy_v_idx'), pg_relation_filenode('maint_test.busy_v_idx')"
    before = tables.execute(size).fetchone()
    result = optimize_database()
    assert "maint_test.busy_v_idx" in targets(result, "reindex")
    assert "maint_test.busy_pkey" in targets(result, "reindex")
    assert "maint_test.quiet_pkey" not in targets(result, "reindex")
    after = tables.execute(size).fetchone()
    assert after[1] != before[1]  # a new index
    assert after[0] < before[0] / 3
    assert result.as_dict()["failed_operations"] == 0


def test_a_rebuild_that_would_wait_gives_up_and_leaves_no_invalid_index(tables, maint_env) -> None:
    """An open writer transaction: REINDEX CONCURRENTLY waits for it, the lock timeout ends the wait."""
    maint_env.setenv("ETL_OPTIMIZE_INDEX_MIN_MB", "0.1")
    maint_env.setenv("ETL_OPTIMIZE_LOCK_TIMEOUT_MS", "300")
    settings.cache_clear()
    tables.execute("delete from maint_test.busy where id % 10 <> 0")
    tables.execute("vacuum analyze maint_test.busy")
    with db.connect() as writer:
        writer.execute("insert into maint_test.busy values (100001, 1)")  # open transaction, not committed
        result = optimize_database()
        rebuild = next(op for op in result.operations if op.target == "maint_test.busy_pkey")
        assert rebuild.status == "failed"
        assert "lock timeout" in rebuild.error or "LockNotAvailable" in rebuild.error
        writer.execute("insert into maint_test.busy values (100002, 2)")  # the writer was never blocked
        writer.commit()
    assert result.as_dict()["status"] == "partial"
    invalid = "select c.relname from pg_index as i join pg_class as c on c.oid = i.indexrelid where not i.indisvalid"
    # the half-built copy could not be dropped while the writer was open (DROP INDEX CONCURRENTLY waits
    # too): the next run drops it first, then rebuilds
    assert tables.execute(invalid).fetchall() == [("busy_pkey_ccnew",)]
    again = optimize_database()
    first = again.operations[0]
    assert (first.kind, first.target, first.status) == (
        "drop_invalid_index",
        "maint_test.busy_pkey_ccnew",
        "success",
    )
    assert tables.execute(invalid).fetchall() == []
    assert again.as_dict()["status"] == "success"


def test_postgres_stopped_in_the_middle_is_a_partial_result(private_pg, private_warehouse) -> None:
    with psycopg.connect(private_warehouse, autocommit=True) as conn:
        conn.execute("create table public.t (id integer)")
        conn.execute("insert into public.t select generate_series(1, 1000)")
    planned = []

    def crash(step: str) -> None:
        planned.append(step)
        if len(planned) == 2:
            private_pg.stop("immediate")

    result = optimize_database(progress=crash)
    data = result.as_dict()
    assert data["postgres_available"] is False
    assert data["status"] == "partial"
    assert data["successful_operations"] == 1
    assert data["failed_operations"] == 1
    assert data["skipped_operations"] == data["total_operations"] - 2
    assert data["errors"][0].startswith("postgres: ")
    private_pg.start()
    after = optimize_database()
    assert after.as_dict()["status"] == "success", after.as_dict()
    # the counters died with the crash; "never analyzed" comes from pg_class, which did not
    undone = {op["target"] for op in data["operations"] if op["status"] != "success"}
    assert undone <= set(targets(after, "vacuum_analyze"))
    assert "public.t" in undone | {data["operations"][0]["target"]}
