"""Who keeps a run open, and whether it still can: what tells a dead run from one between units.

A run's row in ``ops.pipeline_runs`` stays ``running`` between its units and, in Airflow,
between its tasks, for as long as they take: no time limit tells that from a process that
died. So each row names its holder, and the holder's liveness is asked of whoever knows it:

- ``airflow``: the row was opened by a task under Airflow's task supervisor. It is alive while
  its DAG run is queued or running (asked through the Task SDK, ``get_dr_count``): a run whose
  tasks are queued, deferred, up for retry or running between units is never closed. Only a
  task can ask, so the next Airflow run of the pipeline and the watchdog close these rows.
- ``process``: anything else (the ``etl`` CLI, a script, a test). The process holds one
  session advisory lock per open run, on one connection of its own, from before the row is
  written until the run is closed; the server drops the lock when the process dies or its
  connection is cut. A lock anyone can take is a holder that is gone; on the holder's own host
  the process table decides instead (a pid that is gone, not reused): it covers a live process
  whose connection a server restart cut (it takes its locks again at its next write) and a dead
  one whose session the server has not noticed yet.

``close_dead_runs`` closes the rows whose holder is gone as ``failed``, "process lost", with
the stages they left in progress. A row without a holder (written before holders existed) is
left as it is.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import psutil
import psycopg

from reliable_etl import db
from reliable_etl.ops.context import current_task
from reliable_etl.ops.logs import PipelineLogger

ALIVE_DAG_RUN_STATES = ["queued", "running"]


def run_lock(pipeline: str, run_id: str) -> str:
    return f"run:{pipeline}:{run_id}"


def _host() -> str:
    """This process table's name: the hostname and, on Linux, the PID namespace (two containers may
    share a hostname, as with host networking, but never a PID namespace and its pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()} {namespace}"


def _under_airflow() -> bool:
    """True inside a task run by Airflow's supervisor (which answers the Task SDK's questions)."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover - Airflow is a requirement
        return False
    return getattr(task_runner, "SUPERVISOR_COMMS", None) is not None


class _Session:
    """This process's locks on the runs it holds open: one connection, opened on first use."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None
        self.keys: set[str] = set()
        self.mutex = threading.Lock()

    def hold(self, key: str) -> None:
        """Lock ``key`` (once), on a live connection; a cut one raises (the caller's retry policy logs
        and retries it, as any outage) and the next call opens a new session holding every key again."""
        with self.mutex:
            try:
                self._lock(key)
            except psycopg.OperationalError:  # cut (a server restart, say)
                self._drop()
                raise
            self.keys.add(key)

    def release(self, key: str) -> None:
        with self.mutex:
            if key not in self.keys:
                return
            self.keys.discard(key)
            if self.conn is not None:
                try:
                    self.conn.execute("select pg_advisory_unlock(hashtextextended(%s, 0))", (key,))
                except psycopg.Error:
                    self._drop()  # the session is gone, and its locks with it

    def _lock(self, key: str) -> None:
        if self.conn is None or self.conn.closed:  # a new session: every held key locked again
            self.conn = db.connect(autocommit=True, application_name="etl run holder")
            for held in self.keys | {key}:
                db.try_session_lock(self.conn, held)  # False: another session of this run holds it, alive
        elif key in self.keys:
            self.conn.execute("select 1")  # still alive?
        else:
            db.try_session_lock(self.conn, key)

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg.Error):
                self.conn.close()
        self.conn = None

    def abandon(self) -> None:
        """In a forked child: the parent's session is the parent's (closing it would end it for both)."""
        if self.conn is not None:
            _inherited.append(self.conn)  # never collected here: its finalizer would terminate the session
        self.conn, self.keys, self.mutex = None, set(), threading.Lock()


_session = _Session()
_inherited: list[psycopg.Connection] = []
os.register_at_fork(after_in_child=_session.abandon)


def hold(pipeline: str, run_id: str) -> dict:
    """Become the holder of a run about to be written ``running``; returns the holder for its row."""
    task = current_task()
    if task and task.get("dag_id") and task.get("run_id") and _under_airflow():
        return {"kind": "airflow", "dag_id": task["dag_id"], "run_id": task["run_id"]}
    key = run_lock(pipeline, run_id)
    _session.hold(key)
    process = psutil.Process()
    return {"kind": "process", "host": _host(), "pid": process.pid, "started": process.create_time()}


def release(pipeline: str, run_id: str) -> None:
    """The run is closed: its lock goes (a no-op for a run this process does not hold)."""
    _session.release(run_lock(pipeline, run_id))


def _process_gone(holder: dict, probe: psycopg.Connection, pipeline: str, run_id: str) -> bool:
    if holder.get("host") == _host():
        # here the process table is the truth: alive with a cut connection takes its lock again at its
        # next write; dead is dead even while the server has not yet noticed its session is gone
        return not _pid_alive(holder)
    with probe.transaction():
        return db.try_xact_lock(probe, run_lock(pipeline, run_id))


def _pid_alive(holder: dict) -> bool:
    try:
        process = psutil.Process(int(holder["pid"]))
        return abs(process.create_time() - float(holder.get("started") or 0)) < 1  # not a reused pid
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _dag_run_gone(holder: dict) -> bool | None:
    """True when the holder's DAG run is over (or deleted); None when this process cannot ask."""
    if not _under_airflow():
        return None
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    alive = RuntimeTaskInstance.get_dr_count(
        dag_id=holder["dag_id"], run_ids=[holder["run_id"]], states=ALIVE_DAG_RUN_STATES
    )
    return alive == 0


def close_dead_runs(pipeline: str | None, *, found_by: str, log: PipelineLogger) -> list[str]:
    """Close the open runs (of ``pipeline``, or all) whose holder is gone; returns ``pipeline run`` names."""
    closed = []
    with db.connect(autocommit=True, application_name="etl reaper") as conn:
        rows = db.run_sql(conn, "ops/select_open_runs", {"pipeline_name": pipeline, "run_id": found_by}).fetchall()
        if not rows:
            return []
        with db.connect(application_name="etl reaper") as probe:
            for name, run_id, holder in rows:
                if not holder:
                    continue
                if holder.get("kind") == "airflow":
                    gone, who = _dag_run_gone(holder), f"its Airflow run {holder['dag_id']} {holder['run_id']} ended"
                else:
                    gone = _process_gone(holder, probe, name, run_id)
                    who = f"its process ({holder.get('host')} pid {holder.get('pid')}) is gone"
                if not gone:
                    continue
                error = f"process lost: {who} with the run still open (found by run {found_by})"
                params = {"pipeline_name": name, "run_id": run_id, "error": error}
                lost = {**params, "run_ids": [run_id], "run_id": found_by, "checkpoint_key": None}
                with conn.transaction():
                    if not db.run_sql(conn, "ops/fail_lost_runs", lost).fetchone():
                        continue  # closed meanwhile by its own process
                    stages = db.run_sql(conn, "ops/fail_run_checkpoints", params).fetchall()
                closed.append(f"{name} {run_id}")
                log.warning(
                    "%s run %s closed as failed: %s",
                    name,
                    run_id,
                    error,
                    metadata={"lost_run": run_id, "pipeline": name, "stages": [s[0] for s in stages]},
                )
    return closed
