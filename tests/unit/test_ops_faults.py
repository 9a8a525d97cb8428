"""The ops layer under crashes and concurrency: no deadlocks, no stale ledger, outages survived.

- Schema bootstrap reads a ledger first and takes no lock on a live table when current, so it
  never deadlocks with a running load (it used to: `create index if not exists` wants a
  ShareLock on the table a day load holds RowExclusiveLock on).
- A run killed inside a unit leaves "running" rows; the next holder of the unit's lock closes
  them as failed, "process lost".
- A private PostgreSQL restarted at random points of a multi-day run: the run finishes by itself.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from reliable_etl import db
from reliable_etl.ops import SCHEMA_SCRIPTS, init_schema
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.ops.units import reap_lost_units
from reliable_etl.retail.landing import split_export
from reliable_etl_dev import scratch
from reliable_etl_dev.sample import write_sample
from reliable_etl_dev.testing import table_fingerprint

ETL = [sys.executable, "-m", "reliable_etl.cli"]
DATA_TABLES = (
    "bronze.retail_sales",
    "silver.fact_sales_daily",
    "gold.fact_sales_monthly",
    "gold.fact_product_performance",
    "gold.fact_country_sales",
)
# generated sample: 62 days across three month ends
FIRST, LAST = dt.date(2011, 1, 20), dt.date(2011, 3, 22)


def etl_cmd(*argv: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ETL, *argv], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )


def etl_popen(*argv: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*ETL, *argv], env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


BRONZE_LINES = """
    select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from (
        select business_date, row_number() over (partition by business_date order by record_no) as line,
               invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country
        from bronze.retail_sales) as t
"""


def fingerprints(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Rows and content of each data table; bronze by line within its day (record_no is a sequence's)."""
    prints = {table: table_fingerprint(conn, table)[:2] for table in DATA_TABLES if not table.startswith("bronze")}
    return {"bronze.retail_sales": tuple(conn.execute(BRONZE_LINES).fetchone()), **prints}


@pytest.fixture(scope="module")
def long_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """62 generated days as daily landing files."""
    root = tmp_path_factory.mktemp("long")
    export = root / "export.csv"
    write_sample(export, FIRST, (LAST - FIRST).days + 1)
    split_export(export, root / "landing")
    return root / "landing"


@pytest.fixture(scope="module")
def serial_result(pg_server: str, long_landing: Path) -> dict[str, tuple[int, str]]:
    """The tables after one clean serial run, in a database of their own."""
    with scratch.database(pg_server, prefix="etl_test_serial") as name:
        env = {"AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(pg_server, name)}
        run = etl_cmd("retail", "run", "--from", str(FIRST), "--to", str(LAST), "--landing", str(long_landing), env=env)
        assert run.returncode == 0, run.stderr
        assert etl_cmd("retail", "gold", env=env).returncode == 0  # the open month too
        with psycopg.connect(scratch.libpq_uri(pg_server, name), autocommit=True) as conn:
            return fingerprints(conn)


# --- schema bootstrap ------------------------------------------------------------------------


def test_a_current_schema_is_checked_without_ddl_or_locks(schema: str, etl_env: pytest.MonkeyPatch) -> None:
    from reliable_etl.config import settings

    etl_env.setenv("ETL_LOCK_TIMEOUT_MS", "300")
    etl_env.setenv("ETL_RETRY_ATTEMPTS", "1")
    settings.cache_clear()
    with db.connect(autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select format('%I.%I', schemaname, tablename) from pg_tables"
                " where schemaname in ('ops', 'bronze', 'silver', 'gold', 'sync')"
            )
        ]
    with db.connect() as writer:  # a load in the middle of its transaction, on every table
        writer.execute("lock table " + ", ".join(tables) + " in row exclusive mode")
        started = time.monotonic()
        assert init_schema() == []  # used to wait for ShareLocks, then fail on the lock timeout
        assert time.monotonic() - started < 0.3
        writer.rollback()


def test_a_new_or_changed_script_is_applied_once(conn: psycopg.Connection) -> None:
    conn.execute("update ops.schema_migrations set sha256 = 'old' where script = 'retail/create_retail_schema'")
    conn.execute("delete from ops.schema_migrations where script = 'files/create_files_schema'")

    assert init_schema() == ["retail/create_retail_schema", "files/create_files_schema"]
    assert init_schema() == []
    applied = [row[0] for row in conn.execute("select script from ops.schema_migrations order by script")]
    assert applied == sorted(SCHEMA_SCRIPTS)


def test_concurrent_bootstraps_of_a_new_warehouse_apply_each_script_once(pg_server: str) -> None:
    with scratch.database(pg_server, prefix="etl_test_bootstrap") as name:
        env = {"AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(pg_server, name)}
        procs = [etl_popen("init", env=env) for _ in range(4)]
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, outputs
        applied = [line for out, _ in outputs for line in out.splitlines() if line.startswith("applied ")]
        assert sorted(applied) == sorted(f"applied {script}" for script in SCHEMA_SCRIPTS)


def deadlocks(conn: psycopg.Connection) -> int:
    conn.execute("select pg_stat_clear_snapshot()")
    return conn.execute("select deadlocks from pg_stat_database where datname = current_database()").fetchone()[0]


def test_gold_and_bootstraps_during_a_catch_up_finish_without_deadlock_or_lock_timeout(
    clean_retail: psycopg.Connection, long_landing: Path, serial_result: dict
) -> None:
    conn = clean_retail
    before = deadlocks(conn)
    days = ["--from", str(FIRST), "--to", str(LAST), "--landing", str(long_landing)]
    first = etl_popen("retail", "run", *days)
    time.sleep(1.0)
    second = etl_popen("retail", "run", *days)  # overlapping: the same days, most of them no-ops
    side = []
    while first.poll() is None or second.poll() is None:
        side.append(etl_cmd("retail", "gold"))  # each starts with the schema bootstrap
        side.append(etl_cmd("init"))
    for proc in (first, second):
        _, err = proc.communicate()
        assert proc.returncode == 0, err
    assert all(r.returncode == 0 for r in side), [r.stderr for r in side if r.returncode]
    assert len(side) >= 4
    assert etl_cmd("retail", "gold").returncode == 0  # the open month too, as in the serial run

    assert deadlocks(conn) == before
    retries = conn.execute(
        "select message from ops.pipeline_logs where metadata ? 'retry' and message ~* 'deadlock|lock timeout'"
    ).fetchall()
    assert retries == []
    assert fingerprints(conn) == serial_result


# --- a dead run does not stay "running" ----------------------------------------------------------


def ledger(conn: psycopg.Connection, run_like: str) -> list[tuple]:
    return conn.execute(
        "select run_id, status, error, metadata->>'lost' from ops.pipeline_runs where run_id like %s order by run_id",
        (run_like,),
    ).fetchall()


def stages(conn: psycopg.Connection, key: str) -> list[tuple]:
    return conn.execute(
        "select run_id, stage, status, error from ops.pipeline_checkpoint where checkpoint_key = %s"
        " order by start_time",
        (key,),
    ).fetchall()


@pytest.mark.parametrize(
    ("failpoint", "day", "key"),
    [("retail.day.written:3", "2011-01-26", "2011-01-26"), ("gold.unit.written:1", "2011-01-31", "2011-01")],
    ids=["inside a day", "inside gold"],
)
def test_the_next_holder_of_a_unit_closes_the_rows_a_killed_run_left_running(
    clean_retail: psycopg.Connection, sample_landing: Path, failpoint: str, day: str, key: str
) -> None:
    conn = clean_retail
    crashed = etl_cmd(
        "retail", "run", "--from", "2011-01-24", "--to", "2011-02-06", "--landing", str(sample_landing),
        env={"ETL_FAILPOINTS": failpoint},
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    (dead_run, status, _, _), *_ = ledger(conn, f"cli__%__{day}")
    assert status == "running"
    assert {s[2] for s in stages(conn, key)} == {"in_progress"}

    again = etl_cmd("retail", "run", "--from", day, "--to", day, "--landing", str(sample_landing))
    assert again.returncode == 0, again.stderr

    runs = ledger(conn, f"cli__%__{day}")
    assert [r[1] for r in runs] == ["failed", "success"]
    assert runs[0][0] == dead_run
    assert runs[0][2].startswith("process lost:")
    assert runs[0][3] == "true"
    assert runs[1][3] is None  # the ledger tells a lost run from the one that finished
    lost_stages = [s for s in stages(conn, key) if s[0] == dead_run]
    assert lost_stages
    assert all(s[2] == "failed" and s[3].startswith("process lost:") for s in lost_stages)
    assert not [s for s in stages(conn, key) if s[2] == "in_progress"]
    logged = conn.execute(
        "select count(*) from ops.pipeline_logs where message like %s", (f"retail run {dead_run} closed as failed: %",)
    ).fetchone()[0]
    assert logged == 1  # by the next run as it starts, before it takes the unit's lock: said once


def test_a_monitor_reaps_units_whose_lock_is_free_and_leaves_held_ones_alone(
    clean_retail: psycopg.Connection, sample_landing: Path
) -> None:
    conn = clean_retail
    crashed = etl_cmd(
        "retail", "run", "--from", "2011-01-24", "--to", "2011-01-24", "--landing", str(sample_landing),
        env={"ETL_FAILPOINTS": "retail.day.written:1"},
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL
    # a unit in progress right now: its lock is held
    conn.execute(
        "insert into ops.pipeline_checkpoint (pipeline_name, run_id, stage, checkpoint_key, lock_key, status)"
        " values ('retail', 'alive', 'bronze', '2011-02-01', 'retail:day:2011-02-01', 'in_progress')"
    )
    with db.connect() as holder, holder.transaction():
        db.advisory_lock(holder, "retail:day:2011-02-01")
        found = reap_lost_units(run_id="monitor", log=PipelineLogger("etl", "monitor"))

    assert list(found) == ["retail 2011-01-24"]
    assert [r[1] for r in ledger(conn, "cli__%__2011-01-24")] == ["failed"]
    assert [s[2] for s in stages(conn, "2011-02-01")] == ["in_progress"]


# --- outages -----------------------------------------------------------------------------------


@pytest.fixture
def private_pg(tmp_path: Path):
    with scratch.PrivateServer(tmp_path / "pg") as server:
        yield server


@pytest.mark.slow
def test_a_multi_day_run_survives_server_restarts_at_random_points(
    private_pg: scratch.PrivateServer, long_landing: Path, serial_result: dict
) -> None:
    rng = random.Random(20111)
    name = scratch.create_database(private_pg.uri, "retail")
    env = {"AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(private_pg.uri, name), "ETL_LOG_TO_DB": "1"}
    run = etl_popen("retail", "run", "--from", str(FIRST), "--to", str(LAST), "--landing", str(long_landing), env=env)
    restarts = 0
    back_up: list[dt.datetime] = []  # when each restarted server answered again

    def outages() -> None:
        nonlocal restarts
        while run.poll() is None and restarts < 6:
            time.sleep(rng.uniform(0.3, 2.5))
            if run.poll() is None:
                private_pg.restart(rng.uniform(0.5, 1.5))
                back_up.append(dt.datetime.now(dt.UTC))
                restarts += 1

    chaos = threading.Thread(target=outages)
    chaos.start()
    out, err = run.communicate(timeout=600)
    chaos.join()

    assert restarts >= 3, "the run ended before the faults could land"
    assert run.returncode == 0, err[-3000:]
    assert f"processed {(LAST - FIRST).days + 1} days" in out
    assert etl_cmd("retail", "gold", env=env).returncode == 0
    with psycopg.connect(scratch.libpq_uri(private_pg.uri, name), autocommit=True) as conn:
        assert fingerprints(conn) == serial_result
        retried = conn.execute("select count(*) from ops.pipeline_logs where metadata ? 'retry'").fetchone()[0]
        last_commit = conn.execute(
            "select max(end_time) from ops.pipeline_checkpoint where run_id not like '%%\\_\\_gold'"
        ).fetchone()[0]
        # every outage the run lived through was retried, and the retries are in the ops log; an outage
        # after its last commit (the process printing its summary, exiting) had nothing left to retry
        assert retried >= sum(at < last_commit for at in back_up)


# --- the CLI answers infrastructure errors with one clear line ---------------------------------


def test_cli_says_in_one_line_that_the_warehouse_is_down_and_exits_75() -> None:
    env = {
        "AIRFLOW_CONN_WAREHOUSE": "postgresql://etl:s3cr3t-pw@127.0.0.1:1/warehouse",
        "ETL_RETRY_MAX_SECONDS": "1",
        "ETL_RETRY_WAIT_MIN": "0.01",
        "ETL_LOG_TO_DB": "0",
    }
    quiet = etl_cmd("retail", "gold", env=env)
    loud = etl_cmd("-v", "retail", "gold", env=env)

    assert (quiet.returncode, loud.returncode) == (75, 75)
    (line,) = [line for line in quiet.stderr.splitlines() if line.startswith("etl:")]
    assert "Traceback" not in quiet.stderr
    assert "127.0.0.1:1, database 'warehouse'" in line
    assert "is unavailable" in line
    assert "Connection refused" in line
    assert "nothing was committed by this command" in line
    assert "Try again later" in line
    assert "Traceback" in loud.stderr  # -v shows it
    for out in (quiet.stderr, loud.stderr):
        assert "s3cr3t-pw" not in out


def test_cli_names_a_wrong_database_as_configuration_and_exits_2(pg_server: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(pg_server)
    if info.get("host", "").startswith("/"):
        pytest.skip("needs a TCP server")
    env = {"AIRFLOW_CONN_WAREHOUSE": f"postgresql://postgres@{info['host']}:{info.get('port', 5432)}/etl_none"}
    result = etl_cmd("retail", "gold", env={**env, "ETL_LOG_TO_DB": "0"})
    assert result.returncode == 2
    assert 'database "etl_none" does not exist' in result.stderr
    assert "Check the 'warehouse' connection (AIRFLOW_CONN_WAREHOUSE)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_cli_reports_what_was_committed_when_the_server_goes_away(
    private_pg: scratch.PrivateServer, long_landing: Path
) -> None:
    name = scratch.create_database(private_pg.uri, "retail")
    env = {
        "AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(private_pg.uri, name),
        "ETL_RETRY_MAX_SECONDS": "2",
        "ETL_LOG_TO_DB": "0",
    }
    run = etl_popen("retail", "run", "--from", str(FIRST), "--to", str(LAST), "--landing", str(long_landing), env=env)
    deadline = time.monotonic() + 120
    while not (run.stdout and run.stdout.readline().startswith("[3/")):  # three days committed
        assert time.monotonic() < deadline
        assert run.poll() is None
    private_pg.stop("immediate")
    _, err = run.communicate(timeout=120)

    assert run.returncode == 75, err
    (line,) = [line for line in err.splitlines() if line.startswith("etl:")]
    assert "is unavailable" in line
    assert f"committed before it: day {FIRST}, " in line
    assert "Traceback" not in err
