"""A ledger without dead runs: a run whose holder is gone is closed as failed, "process lost".

A real process opens a run and is SIGKILLed between units or inside one; the next run of the
pipeline, or the watchdog, closes its row. A live process is never closed: not between its
units, not when a server restart cut its connection (it takes its lock again at its next
write). The Airflow side (a DAG run still running between tasks, then ended) is in
tests/e2e/test_dead_runs_scheduler.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import psycopg
import pytest

from reliable_etl.ops.holders import close_dead_runs, run_lock
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.ops.runs import pipeline_run

PIPELINE = "dead_runs_test"

HOLDER = textwrap.dedent(
    """
    import sys, time
    from reliable_etl.ops import holders
    from reliable_etl.ops.logs import PipelineLogger
    from reliable_etl.ops.runs import pipeline_run
    from reliable_etl.ops.units import unit_of_work

    where = sys.argv[1]
    log = PipelineLogger("{pipeline}", "r_held", stage="run")
    with pipeline_run("{pipeline}", "r_held", log=log, closes=False) as ledger:
        with unit_of_work("{pipeline}", "r_held", "unit-1", log=log) as unit, unit.stage("load"):
            pass  # one unit committed
        if where == "inside":
            with unit_of_work("{pipeline}", "r_held", "unit-2", log=log) as unit, unit.stage("load"):
                print("ready", holders._session.conn.info.backend_pid, flush=True)
                time.sleep(600)
    print("ready", holders._session.conn.info.backend_pid, flush=True)  # between units: the run still open
    for line in sys.stdin:  # each line: one more write of the open run
        ledger.update(records_in=len(line))
        print("written", holders._session.conn.info.backend_pid, flush=True)
    """
).format(pipeline=PIPELINE)


class Holder:
    """A process holding a run open, as the ``etl`` CLI does between (or inside) units."""

    def __init__(self, where: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, where],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        self.backend = self._expect("ready")

    def _expect(self, word: str) -> int:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:  # blocks until the process says it (its logs go by), or dies
            if line.startswith(word):
                return int(line.split()[1])
        raise AssertionError(f"the holder ended without saying {word!r} (exit {self.proc.wait()})")

    def write(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write("x\n")
        self.proc.stdin.flush()
        return self._expect("written")

    def kill(self, conn: psycopg.Connection) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        wait_backend_gone(conn, self.backend)


def wait_backend_gone(conn: psycopg.Connection, backend: int) -> None:
    """Until the server has noticed the dead client (its session, and its locks, gone)."""
    for _ in range(600):
        if not conn.execute("select 1 from pg_stat_activity where pid = %s", (backend,)).fetchone():
            return
        conn.execute("select pg_sleep(0.05)")
    raise AssertionError(f"backend {backend} still there")


@pytest.fixture
def ledger(conn: psycopg.Connection) -> psycopg.Connection:
    conn.execute("delete from ops.pipeline_runs where pipeline_name = %s", (PIPELINE,))
    conn.execute("delete from ops.pipeline_checkpoint where pipeline_name = %s", (PIPELINE,))
    return conn


@pytest.fixture
def holder() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for h in started:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()


def run_row(conn: psycopg.Connection, run_id: str = "r_held") -> tuple:
    return conn.execute(
        "select status, error, metadata->'lost', metadata->'holder'->>'kind' from ops.pipeline_runs"
        " where pipeline_name = %s and run_id = %s",
        (PIPELINE, run_id),
    ).fetchone()


def stages(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select checkpoint_key, status from ops.pipeline_checkpoint where pipeline_name = %s order by 1",
        (PIPELINE,),
    ).fetchall()


def next_run(run_id: str) -> None:
    with pipeline_run(PIPELINE, run_id, log=PipelineLogger(PIPELINE, run_id)):
        pass


def test_a_run_between_units_is_never_closed_while_its_process_lives(ledger, holder) -> None:
    holder.append(h := Holder("between"))
    assert run_row(ledger)[:1] == ("running",)
    assert run_row(ledger)[3] == "process"

    next_run("r_next")  # the next run of the pipeline looks, and leaves it
    assert close_dead_runs(None, found_by="test", log=PipelineLogger("test", "t")) == []
    assert run_row(ledger)[0] == "running"

    # a server restart cuts its connection: it is still alive here, and takes its lock again when it writes
    ledger.execute("select pg_terminate_backend(%s)", (h.backend,))
    wait_backend_gone(ledger, h.backend)
    assert close_dead_runs(PIPELINE, found_by="test", log=PipelineLogger("test", "t")) == []
    assert h.write() != h.backend  # a new session ...
    with ledger.transaction():  # ... holding the run's lock again
        assert not ledger.execute(
            "select pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (run_lock(PIPELINE, "r_held"),)
        ).fetchone()[0]
    assert run_row(ledger)[0] == "running"


def test_a_process_killed_between_units_is_closed_by_the_next_run(ledger, holder) -> None:
    holder.append(h := Holder("between"))
    h.kill(ledger)

    next_run("r_next")

    status, error, lost, _ = run_row(ledger)
    assert (status, lost) == ("failed", True)
    assert error.startswith("process lost: its process (")
    assert "is gone with the run still open (found by run r_next)" in error
    assert run_row(ledger, "r_next")[0] == "success"
    assert stages(ledger) == [("unit-1", "completed")]  # what it committed stays


def test_a_process_killed_inside_a_unit_is_closed_with_its_stage(ledger, holder) -> None:
    holder.append(h := Holder("inside"))
    assert stages(ledger) == [("unit-1", "completed"), ("unit-2", "in_progress")]
    h.kill(ledger)

    closed = close_dead_runs(None, found_by="watchdog_test", log=PipelineLogger("test", "t"))

    assert closed == [f"{PIPELINE} r_held"]
    assert run_row(ledger)[:1] == ("failed",)
    assert stages(ledger) == [("unit-1", "completed"), ("unit-2", "failed")]


def test_the_watchdog_closes_dead_runs_on_every_pass(ledger, holder) -> None:
    from reliable_etl.maintenance.watchdog import watchdog

    holder.append(h := Holder("between"))
    h.kill(ledger)

    report = watchdog(run_id="wd1", airflow=False, pipelines=())

    assert report.as_dict()["dead_runs_closed"] == [f"{PIPELINE} r_held"]
    assert run_row(ledger)[:1] == ("failed",)
    assert watchdog(run_id="wd2", airflow=False, pipelines=()).dead_runs_closed == []


def test_a_run_of_an_airflow_dag_run_is_left_to_those_who_can_ask_airflow(ledger) -> None:
    """Outside a task, no one can tell whether the DAG run lives: left as it is (the watchdog task closes it)."""
    holder = {"kind": "airflow", "dag_id": "retail_daily", "run_id": "scheduled__2011-01-05"}
    ledger.execute(
        "insert into ops.pipeline_runs (pipeline_name, run_id, status, metadata) values (%s, 'r_af', 'running', %s)",
        (PIPELINE, json.dumps({"holder": holder})),
    )
    next_run("r_next")
    assert run_row(ledger, "r_af")[0] == "running"


def test_a_forked_child_leaves_its_parents_run_lock_alone(ledger) -> None:
    from reliable_etl.ops import holders

    holders.hold(PIPELINE, "r_parent")
    try:
        pid = os.fork()
        if pid == 0:  # the child: a run of its own on a session of its own; the parent's is not its to end
            try:
                holders.hold(PIPELINE, "r_child")
                holders.release(PIPELINE, "r_parent")
            finally:
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        with ledger.transaction():  # the parent's lock is still held by its session
            assert not ledger.execute(
                "select pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (run_lock(PIPELINE, "r_parent"),)
            ).fetchone()[0]
    finally:
        holders.release(PIPELINE, "r_parent")
