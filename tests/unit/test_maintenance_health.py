"""health_check and the DuckDB mirror against real services: the warehouse, the local Redis, a DuckDB file.

Faults are real: Redis on a closed port, the DuckDB file held read-write by another process,
a private PostgreSQL stopped with ``pg_ctl stop -m immediate`` in the middle of the check.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pytest
import redis

from reliable_etl.config import settings
from reliable_etl.maintenance.analytics import duckdb_type, mirror_gold
from reliable_etl.maintenance.health import health_check
from reliable_etl.maintenance.tasks import run_job

HOLD_OPEN = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists held (x integer)")
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def gold(conn: psycopg.Connection) -> psycopg.Connection:
    """Two months of gold, with values that test the mirror: NULL, an empty string, quotes, decimals."""
    conn.execute("truncate gold.fact_sales_monthly, gold.fact_product_performance, gold.fact_country_sales")
    conn.execute(
        "insert into gold.fact_product_performance (month_key, stock_code, description, invoices, customers,"
        " units_sold, units_returned, gross_sales, returns_amount, net_amount, net_rank) values"
        " ('2011-01', '85123A', 'WHITE \"HANGING\" HEART, T-LIGHT', 3, 2, 10, 0, 25.500, 0, 25.500, 1),"
        " ('2011-01', '22423', NULL, 1, 1, 2, 0, 12.750, 0, 12.750, 2),"
        " ('2011-02', '22423', '', 1, 0, 1, 1, 12.750, -12.750, 0, 1)"
    )
    conn.execute(
        "insert into gold.fact_country_sales values ('2011-01', 'United Kingdom', 4, 3, 12, 38.250, 0.950000),"
        " ('2011-01', 'EIRE', 1, 1, 1, 2.000, null)"
    )
    return conn


def _mirror_rows(path: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"select * from gold.{table} order by all").fetchall()


def test_all_services_up_is_healthy_cached_in_redis_and_kept(maint_env, redis_ns, gold, conn) -> None:
    mirror = mirror_gold(run_id="test")
    assert mirror.status == "success", mirror.errors
    data = run_job("health_check", run_id="test-health")
    assert (data["postgres"], data["redis"], data["duckdb"]) == (True, True, True), data["errors"]
    assert data["status"] == "healthy"
    assert data["errors"] == []
    # disk and memory readings: present and sane (memory against /proc/meminfo)
    assert 0 < data["disk_space"]["percent"] <= 100
    assert data["disk_space"]["total_gb"] > 0
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total_kb = int(meminfo["MemTotal"].split()[0])
    available_kb = int(meminfo["MemAvailable"].split()[0])
    assert abs(data["memory_usage"]["percent"] - 100 * (1 - available_kb / total_kb)) < 10
    # cached in Redis with a TTL, kept in the warehouse
    client = redis.Redis(host="127.0.0.1", port=6379)
    cached = json.loads(client.get(f"{redis_ns}health:latest"))
    assert cached["timestamp"] == data["timestamp"]
    assert 0 < client.ttl(f"{redis_ns}health:latest") <= settings().health_cache_ttl_seconds
    kept = conn.execute(
        "select status, result from ops.maintenance_runs where job = 'health_check' and run_id = 'test-health'"
    ).fetchone()
    assert kept[0] == "healthy"
    assert kept[1]["postgres"] is True


def test_redis_on_a_closed_port_is_a_value_not_an_exception(redis_down, schema, conn) -> None:
    result = run_job("health_check", run_id="test-redis-down")
    assert result["redis"] is False
    assert result["postgres"] is True
    assert result["status"] == "unhealthy"
    assert any(e.startswith("redis: ConnectionError") for e in result["errors"]), result["errors"]
    assert result["cached"] is False
    # kept in the warehouse all the same
    assert conn.execute(
        "select result -> 'redis' from ops.maintenance_runs where run_id = 'test-redis-down'"
    ).fetchone() == (False,)


def test_redis_without_a_connection_is_reported(maint_env, schema) -> None:
    maint_env.delenv("AIRFLOW_CONN_REDIS_DEFAULT", raising=False)
    maint_env.setenv("ETL_REDIS_CONN_ID", "no_such_redis")
    settings.cache_clear()
    result = health_check()
    assert result.redis is False
    assert any("no_such_redis" in e for e in result.errors), result.errors


def test_duckdb_held_read_write_by_another_process_counts_as_in_use(maint_env, redis_ns, gold, tmp_path) -> None:
    assert mirror_gold().status == "success"
    path = settings().analytics_path
    holder = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        result = health_check()
        assert result.duckdb is True
        assert result.duckdb_in_use is True
        assert any("in use by a writer" in e and f"PID {holder.pid}" in e for e in result.errors), result.errors
        assert result.status == "healthy"
        # the mirror is not replaced under a writer: skipped, naming the lock
        again = mirror_gold()
        assert again.status == "skipped"
        assert "Conflicting lock is held" in again.errors[0]
    finally:
        holder.kill()
        holder.wait()
    assert health_check().duckdb_in_use is False


def test_a_mirror_never_built_is_a_switch_to_turn_on_not_a_failure(maint_env, redis_ns, conn) -> None:
    """A fresh deployment: etl_analytics_mirror starts paused like every DAG, so there is no file yet."""
    conn.execute("delete from ops.maintenance_runs where job = 'analytics_mirror'")
    result = health_check()
    assert (result.duckdb, result.duckdb_not_built, result.status) == (False, True, "healthy")
    assert any("switch on the DAG etl_analytics_mirror" in e for e in result.errors)


def test_missing_or_damaged_duckdb_file_is_unhealthy(maint_env, redis_ns, conn) -> None:
    path = settings().analytics_path
    conn.execute(
        "insert into ops.maintenance_runs (job, run_id, status, started_at)"
        " values ('analytics_mirror', 't', 'success', now())"
    )
    try:
        result = health_check()
    finally:
        conn.execute("delete from ops.maintenance_runs where job = 'analytics_mirror' and run_id = 't'")
    assert (result.duckdb, result.duckdb_not_built, result.status) == (False, False, "unhealthy")
    assert any("no analytics file" in e and "it is gone" in e for e in result.errors)
    path.write_bytes(b"this is not a duckdb file" * 200)
    result = health_check()
    assert result.duckdb is False
    assert any(e.startswith("duckdb: ") for e in result.errors)


def test_postgres_stopped_in_the_middle_then_restarted(private_pg, private_warehouse, redis_ns) -> None:
    """Stopped after the probe, before the result is kept: a result, no crash; the next run is healthy."""
    result = run_job(
        "health_check", run_id="crash", progress=lambda step: private_pg.stop("immediate") if step == "host" else None
    )
    assert result["postgres"] is True  # it answered the probe; keeping the result failed (a warning)
    # down before the check: postgres False, the other probes still ran
    down = run_job("health_check", run_id="down")
    assert down["postgres"] is False
    assert down["redis"] is True
    assert down["memory_usage"]["percent"] > 0
    assert any(e.startswith("postgres: ") for e in down["errors"])
    private_pg.start()
    assert mirror_gold().status == "success"
    after = run_job("health_check", run_id="after")
    assert after["status"] == "healthy", after["errors"]
    with psycopg.connect(private_warehouse) as conn:
        assert conn.execute("select run_id from ops.maintenance_runs order by id").fetchall() == [("after",)]


def test_mirror_is_an_exact_typed_copy_and_replaced_atomically(maint_env, gold, conn) -> None:
    first = mirror_gold()
    assert first.tables == {
        "gold.fact_country_sales": 2,
        "gold.fact_product_performance": 3,
        "gold.fact_sales_monthly": 0,
    }
    path = settings().analytics_path
    rows = _mirror_rows(path, "fact_product_performance")
    source = conn.execute("select * from gold.fact_product_performance order by 1, 2, 3").fetchall()
    assert sorted(rows, key=str) == sorted(source, key=str)
    descriptions = {(r[0], r[1]): r[2] for r in rows}
    assert descriptions[("2011-02", "22423")] == ""  # an empty string stays empty, NULL stays NULL
    assert descriptions[("2011-01", "22423")] is None
    assert descriptions[("2011-01", "85123A")] == 'WHITE "HANGING" HEART, T-LIGHT'
    assert {r[7] for r in rows} == {Decimal("25.500"), Decimal("12.750")}
    # a reader holding the old mirror keeps reading it while the new one is renamed over it
    reader = duckdb.connect(str(path), read_only=True)
    gold.execute("delete from gold.fact_country_sales where country = 'EIRE'")
    time.sleep(0.01)
    assert mirror_gold().tables["gold.fact_country_sales"] == 1
    assert reader.execute("select count(*) from gold.fact_country_sales").fetchone() == (2,)
    reader.close()
    assert len(_mirror_rows(path, "fact_country_sales")) == 1
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_mirror_with_the_warehouse_down_keeps_the_previous_file(private_pg, private_warehouse) -> None:
    assert mirror_gold().status == "success"
    before = settings().analytics_path.read_bytes()
    private_pg.stop("immediate")
    result = mirror_gold()
    assert result.status == "failed"
    assert result.postgres_available is False
    assert result.errors[0].startswith("postgres: ")
    assert settings().analytics_path.read_bytes() == before


@pytest.mark.parametrize(
    ("pg_type", "precision", "scale", "expected"),
    [
        ("numeric", 12, 3, "DECIMAL(12,3)"),
        ("numeric", None, None, "DOUBLE"),
        ("text", None, None, "VARCHAR"),
        ("timestamp with time zone", None, None, "TIMESTAMPTZ"),
        ("jsonb", None, None, "VARCHAR"),
    ],
)
def test_duckdb_types(pg_type, precision, scale, expected) -> None:
    assert duckdb_type(pg_type, precision, scale) == expected
