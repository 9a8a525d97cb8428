"""cleanup_old_data on a private PostgreSQL, the local Redis and a real archive directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
import redis

from reliable_etl.config import settings
from reliable_etl.maintenance.cleanup import cleanup_old_data

OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
NEW = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)


def seed(uri: str) -> None:
    """Two rows of every kind, one past every retention and one recent; checkpoints of one unit."""
    with psycopg.connect(uri, autocommit=True) as conn:
        for at in (OLD, NEW):
            conn.execute("insert into ops.pipeline_logs (timestamp, level, message) values (%s, 'INFO', 'x')", (at,))
            conn.execute(
                "insert into ops.maintenance_runs (job, status, started_at, finished_at) values"
                " ('health_check', 'healthy', %s, %s), ('backup_critical_data', 'success', %s, %s)",
                (at, at, at, at),
            )
            conn.execute(
                "insert into ops.rejected_rows (pipeline_name, source, line, raw, reason, unit_key, rejected_at)"
                " values ('retail', %s, 1, 'raw', 'reason', 'day', %s)",
                (f"file-{at:%Y}.csv", at),
            )
            conn.execute(
                "insert into ops.sync_transitions (service, entity, from_status, to_status, at)"
                " values ('github', 'acme/api', 'PENDING', 'RUNNING', %s)",
                (at,),
            )
            conn.execute(
                "insert into ops.check_results (pipeline_name, target, unit_key, check_name, severity, passed,"
                " published, checked_at)"
                " values ('retail', 'gold.t', '2011-01', 'keys_unique', 'error', true, true, %s)",
                (at,),
            )
        # a check's only verdict on another unit, old: the latest stays
        conn.execute(
            "insert into ops.check_results (pipeline_name, target, unit_key, check_name, severity, passed, published,"
            " checked_at) values ('retail', 'gold.t', '2011-02', 'keys_unique', 'error', true, true, %s)",
            (OLD,),
        )
        # unit 2011-01-05, stage silver: an old superseded row, an old latest row; an old unit still in progress
        conn.execute(
            "insert into ops.pipeline_checkpoint (pipeline_name, run_id, stage, checkpoint_key, status,"
            " start_time, end_time) values"
            " ('retail', 'r1', 'silver', '2011-01-05', 'failed', %(old)s, %(old)s),"
            " ('retail', 'r2', 'silver', '2011-01-05', 'completed', %(later)s, %(later)s),"
            " ('retail', 'r3', 'silver', '2011-01-06', 'in_progress', %(old)s, null)",
            {"old": OLD, "later": OLD + dt.timedelta(days=1)},
        )


def remaining(uri: str) -> dict[str, int]:
    with psycopg.connect(uri) as conn:
        return {
            table: conn.execute(f"select count(*) from ops.{table}").fetchone()[0]
            for table in (
                "pipeline_logs",
                "maintenance_runs",
                "rejected_rows",
                "sync_transitions",
                "pipeline_checkpoint",
                "check_results",
            )
        }


@pytest.fixture
def archive() -> Path:
    root = settings().files_archive_dir
    for day in ("2020-01-01", dt.date.today().isoformat()):
        (root / day).mkdir(parents=True)
        (root / day / "CDNOW_master.txt").write_text("x")
    (root / "not-a-date").mkdir()
    return root


@pytest.fixture
def redis_keys(redis_ns: str) -> redis.Redis:
    client = redis.Redis(host="127.0.0.1", port=6379)
    client.set(f"{redis_ns}leaked", "no expiry")
    client.set(f"{redis_ns}cached", "expires", ex=600)
    client.set(f"{redis_ns.rstrip(':')}-other:key", "not ours: another prefix", ex=60)
    return client


def test_every_retention_applies_and_the_latest_checkpoint_stays(private_warehouse, archive, redis_keys, redis_ns):
    seed(private_warehouse)
    settings.cache_clear()
    result = cleanup_old_data(run_id="test")
    data = result.as_dict()
    assert data["status"] == "success", data["errors"]
    assert data["postgres_available"] is True
    assert data["details"] == {
        "pipeline_logs": 1,
        "checkpoints": 1,  # the superseded one; the unit's latest and the one in progress stay
        "health_results": 1,  # the backup's result is not a health result
        "rejected_rows": 1,
        "sync_transitions": 1,
        "check_results": 1,  # the superseded verdict; the latest of each unit stays
        "file_archives": 1,
        "redis_keys": 0,  # untouched for less than 7 days
    }
    assert data["database_records_cleaned"] == 6
    assert data["total_cleaned"] == 7
    assert remaining(private_warehouse) == {
        "pipeline_logs": 1,
        "maintenance_runs": 3,
        "rejected_rows": 1,
        "sync_transitions": 1,
        "pipeline_checkpoint": 2,
        "check_results": 2,
    }
    assert sorted(p.name for p in archive.iterdir()) == sorted([dt.date.today().isoformat(), "not-a-date"])
    # a second run finds nothing to do
    assert cleanup_old_data().total_cleaned == 0


def test_redis_keys_without_expiry_past_the_retention_go(maint_env, schema, redis_keys, redis_ns) -> None:
    maint_env.setenv("ETL_RETENTION_REDIS_DAYS", "0")
    settings.cache_clear()
    result = cleanup_old_data()
    assert result.redis_keys_cleaned == 1
    assert redis_keys.exists(f"{redis_ns}leaked") == 0
    assert redis_keys.exists(f"{redis_ns}cached") == 1  # expires by itself
    assert redis_keys.exists(f"{redis_ns.rstrip(':')}-other:key") == 1  # not under our prefix


def test_postgres_stopped_in_the_middle_goes_on_with_redis_then_recovers(
    private_pg, private_warehouse, archive, redis_keys, redis_ns, maint_env
) -> None:
    seed(private_warehouse)
    maint_env.setenv("ETL_RETENTION_REDIS_DAYS", "0")
    settings.cache_clear()
    result = cleanup_old_data(progress=lambda step: private_pg.stop("immediate") if step == "rejected_rows" else None)
    data = result.as_dict()
    assert data["status"] == "partial"
    assert data["postgres_available"] is False
    assert data["errors"][0].startswith("postgres: rejected_rows: "), data["errors"]
    assert data["details"]["pipeline_logs"] == 1  # done before the crash, committed
    assert "rejected_rows" not in data["details"]
    assert data["redis_keys_cleaned"] == 1  # Redis went on without PostgreSQL
    assert data["details"]["file_archives"] == 1
    private_pg.start()
    after = cleanup_old_data()
    assert after.status == "success", after.errors
    assert after.details["rejected_rows"] == 1
    assert after.details["sync_transitions"] == 1
    assert after.details["pipeline_logs"] == 0


def test_redis_down_postgres_still_cleaned(redis_down, private_warehouse) -> None:
    seed(private_warehouse)
    result = cleanup_old_data()
    assert result.status == "partial"
    assert result.redis_available is False
    assert result.postgres_available is True
    assert result.database_records_cleaned == 6
    assert result.errors[0].startswith("redis: ConnectionError")
