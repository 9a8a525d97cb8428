"""Get a strictly in-order DAG going again after a failed day (apache/airflow #29524), on fixed code.

With catchup + max_active_runs=1 + depends_on_past, a failed day D leaves day D+1
running with its tasks waiting on D. Clearing D alone deadlocks: D is queued while
D+1 holds the only slot. `recover` clears D's failed tasks, then puts the later
active runs back to queued, so the scheduler runs D, D+1, ... in order.

A day that failed is usually fixed by a commit: by default the recovered runs move to the
DAG's latest bundle version (the clear API's ``run_on_latest_version``), D+1 included, so
none of them replays the bug. Airflow moves only a finished run when clearing, so a later run
still waiting on D is set to failed, then cleared (no task of it has run: it waited on D).
``latest_version=False`` keeps every run on the version it was created with.

Usage (from a shell, a maintenance DAG or a test)::

    from reliable_etl_plugin.recovery import AirflowApi, recover
    print(recover("retail_daily"))                      # connection `airflow_api`
    print(recover("retail_daily", dry_run=True))        # only report
    print(recover("retail_daily", latest_version=False))  # keep the runs' own versions
    print(recover("retail_daily", airflow=AirflowApi("http://127.0.0.1:8080")))
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import httpx
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)

CONN_ID = "airflow_api"
DEFAULT_BASE_URL = "http://127.0.0.1:8080"
PAGE_SIZE = 100  # the API's maximum_page_limit default


class AirflowApiError(RuntimeError):
    """An HTTP error answer of the Airflow REST API."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class AirflowApi:
    """Small client of the Airflow REST API v2.

    With a username and password it gets a JWT from ``POST /auth/token``; with a `token`
    (a signed-in user's JWT, as the dashboard passes on) it sends that one; without either
    it sends no token (fine when ``simple_auth_manager_all_admins`` is on).
    """

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        *,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._token: str | None = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"AirflowApi({self.base_url!r}, username={self.username!r})"

    @classmethod
    def from_connection(cls, conn_id: str = CONN_ID) -> AirflowApi:
        """Build from Connection `conn_id`; if it is not defined, from env vars.

        Fallback: ``ETL_AIRFLOW_API_URL`` (default http://127.0.0.1:8080),
        ``ETL_AIRFLOW_API_USERNAME``, ``ETL_AIRFLOW_API_PASSWORD``.
        """
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            log.info("Connection %s not defined; using ETL_AIRFLOW_API_* env vars", conn_id)
            return cls(
                os.environ.get("ETL_AIRFLOW_API_URL") or DEFAULT_BASE_URL,
                os.environ.get("ETL_AIRFLOW_API_USERNAME") or None,
                os.environ.get("ETL_AIRFLOW_API_PASSWORD") or None,
            )
        host = conn.host or "127.0.0.1"
        if "://" in host:  # host holds a full URL, e.g. http://airflow:8080
            base_url = host
        else:
            scheme = conn.schema or "http"
            base_url = f"{scheme}://{host}:{conn.port or 8080}"
        return cls(base_url, conn.login or None, conn.password or None)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    # -- plumbing -------------------------------------------------------------------

    def _fetch_token(self) -> str:
        resp = self._http.post("/auth/token", json={"username": self.username, "password": self._password})
        if resp.status_code >= 400:
            raise RuntimeError(f"Airflow login as {self.username!r} at {self.base_url} failed: HTTP {resp.status_code}")
        return resp.json()["access_token"]

    @retry(
        # 502/503/504: the server is busy (e.g. "database is locked" on SQLite), not wrong
        retry=retry_if_exception(lambda e: isinstance(e, AirflowApiError) and e.status_code in {502, 503, 504}),
        wait=wait_random_exponential(multiplier=0.5, max=5),
        stop=stop_after_attempt(8),
        reraise=True,
    )
    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to ``/api/v2{path}``; return the JSON body (None if empty)."""
        for attempt in (1, 2):
            headers = {}
            if self.username and self._token is None:
                self._token = self._fetch_token()
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            resp = self._http.request(method, f"/api/v2{path}", headers=headers, **kwargs)
            if resp.status_code in (401, 403) and self.username and attempt == 1:
                self._token = None  # expired or invalid token: log in again once
                continue
            break
        if resp.status_code >= 400:
            raise AirflowApiError(f"{method} {path} -> HTTP {resp.status_code}: {resp.text[:2000]}", resp.status_code)
        return resp.json() if resp.content else None

    def _get_all(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict]:
        """GET every page of a collection endpoint."""
        items: list[dict] = []
        while True:
            page_params = {**(params or {}), "limit": PAGE_SIZE, "offset": len(items)}
            page = self.request("GET", path, params=page_params)
            items.extend(page[key])
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    # -- endpoints ------------------------------------------------------------------

    def health(self) -> dict:
        """``GET /monitor/health``: status of metadatabase, scheduler, dag-processor, triggerer."""
        return self.request("GET", "/monitor/health")

    def dag(self, dag_id: str) -> dict | None:
        """The DAG, or None if the dag-processor has not stored it (yet)."""
        try:
            return self.request("GET", f"/dags/{dag_id}")
        except AirflowApiError as exc:
            if exc.status_code == 404:
                return None
            raise

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        """Pause or unpause a DAG."""
        return self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def import_errors(self) -> list[dict]:
        """Every current import error (``filename``, ``stack_trace``, ...)."""
        return self._get_all("/importErrors", "import_errors")

    def dag_runs(self, dag_id: str) -> list[dict]:
        """Every run of a DAG, oldest first (ordered by run_after)."""
        return self._get_all(f"/dags/{dag_id}/dagRuns", "dag_runs", {"order_by": ["run_after", "id"]})

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """Task instances of one run."""
        return self._get_all(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances")

    def clear_run(
        self,
        dag_id: str,
        run_id: str,
        *,
        only_failed: bool = True,
        dry_run: bool = False,
        latest_version: bool | None = None,
    ) -> dict:
        """Clear a run's (failed) task instances; a finished run goes back to queued.

        ``latest_version``: True moves a finished run to the DAG's latest bundle version, False
        keeps its own, None leaves it to the DAG's or Airflow's ``rerun_with_latest_version``.
        The answer is the run (``bundle_version`` included), or with ``dry_run`` the task instances.
        """
        body: dict[str, Any] = {"dry_run": dry_run, "only_failed": only_failed}
        if latest_version is not None:
            body["run_on_latest_version"] = latest_version
        return self.request("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json=body)

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        """Start a manual run now (no logical date), with ``conf`` as its Params."""
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> dict:
        """Set a run's state: ``queued``, ``success`` or ``failed``."""
        return self.request("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": state})


@dataclass
class RecoveryReport:
    """What `recover` did (or, with dry_run, would do)."""

    dag_id: str
    dry_run: bool
    latest_version: bool = True
    failed_run: str | None = None
    cleared: list[str] = field(default_factory=list)  # "run_id task_id[map_index] (state)"
    requeued: list[str] = field(default_factory=list)  # run ids set back to queued
    # the bundle version the recovered runs run on (None: an unversioned bundle, a local folder)
    bundle_version: str | None = None
    versions: dict[str, str | None] = field(default_factory=dict)  # run id -> the version it was on
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True if anything was (or would be) cleared or re-queued."""
        return bool(self.cleared or self.requeued)

    def __str__(self) -> str:
        verb = "would" if self.dry_run else "did"
        mode = "dry run" if self.dry_run else "applied" if self.changed else "nothing to do"
        lines = [f"Recovery of {self.dag_id} ({mode})"]
        lines.append(f"  earliest failed/stuck run: {self.failed_run or '-'}")
        if self.failed_run:
            lines.append(f"  {'would run' if self.dry_run else 'runs'} on bundle version: {self.version_line()}")
        lines.append(f"  {verb} clear {len(self.cleared)} task instance(s):")
        lines += [f"    {item}" for item in self.cleared]
        lines.append(f"  {verb} re-queue {len(self.requeued)} later run(s):")
        lines += [f"    {run_id}" for run_id in self.requeued]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def version_line(self) -> str:
        """``abc123 (the latest; was def456)``: the bundle version the recovered runs run on."""
        version = self.bundle_version or "unversioned (a local bundle)"
        if not self.latest_version:
            return "each run's own (--keep-version)"
        moved = sorted({v for v in self.versions.values() if v != self.bundle_version}, key=str)
        return version + (f" (the latest; was {', '.join(map(str, moved))})" if moved else " (the latest)")


def _run_after(run: dict) -> datetime:
    return datetime.fromisoformat(run["run_after"])


def _ti_label(ti: dict) -> str:
    map_index = ti.get("map_index", -1)
    suffix = f"[{map_index}]" if map_index is not None and map_index >= 0 else ""
    return f"{ti['dag_run_id']} {ti['task_id']}{suffix} ({ti.get('state')})"


def recover(
    dag_id: str, *, airflow: AirflowApi | None = None, dry_run: bool = False, latest_version: bool = True
) -> RecoveryReport:
    """Clear the earliest failed run of `dag_id` and re-queue the later active runs.

    Works against a running scheduler: the failed run is cleared first (it becomes
    queued with no scheduling decision yet, so it sorts first), then later
    running runs are set to queued; the scheduler then starts them by run_after.
    If no run failed but a queued run sits behind a later running one (someone
    cleared the failed day by hand: the #29524 deadlock), that queued run is
    the anchor and only the re-queueing is done.

    ``latest_version`` (default): every run recovered runs on the DAG's latest bundle version.
    """
    api = airflow or AirflowApi.from_connection()
    report = RecoveryReport(dag_id=dag_id, dry_run=dry_run, latest_version=latest_version)
    runs = api.dag_runs(dag_id)

    anchor_index = next((i for i, r in enumerate(runs) if r["state"] == "failed"), None)
    if anchor_index is None:
        anchor_index = next(
            (
                i
                for i, r in enumerate(runs)
                if r["state"] == "queued" and any(x["state"] == "running" for x in runs[i + 1 :])
            ),
            None,
        )
    if anchor_index is None:
        report.notes.append("no failed run and no queued run stuck behind a running one")
        log.info("%s: nothing to recover", dag_id)
        return report

    anchor = runs[anchor_index]
    later = runs[anchor_index + 1 :]
    report.failed_run = anchor["dag_run_id"]
    dag = api.dag(dag_id)
    report.bundle_version = (dag or {}).get("bundle_version") if latest_version else anchor.get("bundle_version")
    report.versions[anchor["dag_run_id"]] = anchor.get("bundle_version")

    # 1. Clear the failed day first: while a later run still holds the slot the
    #    scheduler cannot start it, so it never overtakes that later run.
    if anchor["state"] == "failed":
        _clear_failed(api, report, anchor)
    elif latest_version and anchor.get("bundle_version") != report.bundle_version and not dry_run:
        _requeue(api, dag_id, anchor["dag_run_id"], latest_version=True)  # cleared by hand on its old version

    # 2. Give the slot back: later running runs (waiting on depends_on_past) -> queued.
    #    List again after the clear: the scheduler may have started a later run meanwhile.
    if not dry_run:
        later = [r for r in api.dag_runs(dag_id) if _run_after(r) > _run_after(anchor)]
    for run in later:
        if run["state"] == "running":
            report.requeued.append(run["dag_run_id"])
            report.versions[run["dag_run_id"]] = run.get("bundle_version")
            if not dry_run:
                _requeue(api, dag_id, run["dag_run_id"], latest_version=latest_version)

    if latest_version and not report.bundle_version and any(report.versions.values()):
        report.notes.append("the DAG has no bundle version: the runs stay on the versions they have")
    later_failed = [r["dag_run_id"] for r in later if r["state"] == "failed"]
    if later_failed:
        report.notes.append(
            f"later failed runs left as they are (run recover again once the above succeeded): "
            f"{', '.join(later_failed)}"
        )
    if dag is not None and dag["is_paused"]:
        report.notes.append("the DAG is paused: nothing runs until it is unpaused")
    return report


def _clear_failed(api: AirflowApi, report: RecoveryReport, run: dict) -> None:
    """Clear the failed run's failed task instances (all of them if none failed), on the chosen version."""
    dag_id, run_id = report.dag_id, run["dag_run_id"]
    only_failed = True
    preview = api.clear_run(dag_id, run_id, only_failed=True, dry_run=True)["task_instances"]
    if not preview:  # e.g. marked failed by hand or by dagrun_timeout
        only_failed = False
        preview = api.clear_run(dag_id, run_id, only_failed=False, dry_run=True)["task_instances"]
        report.notes.append("the failed run has no failed task instance: clearing all its tasks")
    report.cleared = [_ti_label(ti) for ti in preview]
    if report.dry_run:
        return
    log.info("%s: clearing failed run %s", dag_id, run_id)
    cleared = api.clear_run(dag_id, run_id, only_failed=only_failed, latest_version=report.latest_version)
    if report.latest_version:
        report.bundle_version = cleared.get("bundle_version")


def _requeue(api: AirflowApi, dag_id: str, run_id: str, *, latest_version: bool) -> None:
    """Give a run blocked behind the failed one back to the scheduler, queued.

    On the latest version: Airflow moves only a finished run to it when clearing, and a PATCH to
    queued keeps the run's version; so the run is set to failed (no task of it has run, it was
    waiting on the failed day) and then cleared, which queues it on the latest version.
    """
    log.info("%s: re-queueing blocked run %s%s", dag_id, run_id, " on the latest version" if latest_version else "")
    if not latest_version:
        api.set_run_state(dag_id, run_id, "queued")
        return
    api.set_run_state(dag_id, run_id, "failed")
    api.clear_run(dag_id, run_id, only_failed=False, latest_version=True)


@dataclass
class BackfillReport:
    """What `backfill_days` created (or, with dry_run, would create)."""

    dag_id: str
    first_day: date
    last_day: date
    dry_run: bool
    logical_dates: list[str] = field(default_factory=list)
    backfill_id: int | None = None
    paused: bool = False

    def __str__(self) -> str:
        days = f"{self.first_day} .. {self.last_day}"
        if not self.logical_dates:
            return f"{self.dag_id}: no run to create for {days} (every day has a run, or none is due yet)"
        verb = "would create" if self.dry_run else f"backfill {self.backfill_id} created"
        lines = [f"{self.dag_id}: {verb}: {len(self.logical_dates)} runs for {days}:"]
        lines += [f"  {logical_date}" for logical_date in self.logical_dates]
        if self.paused:
            lines.append(
                f"NOTE: {self.dag_id} is paused, and a backfill of a paused DAG waits: nothing runs until you "
                f"unpause it (the UI toggle, or `etl airflow dags unpause {self.dag_id}`)"
            )
        return "\n".join(lines)


def backfill_days(
    api: AirflowApi,
    dag_id: str,
    first_day: date,
    last_day: date,
    *,
    reprocess: str = "failed",
    max_active_runs: int = 1,
    dry_run: bool = False,
) -> BackfillReport:
    """Backfill the runs of the calendar days ``first_day`` .. ``last_day``, both included.

    Airflow's backfill bounds logical dates: day D's run of a daily DAG at 02:00 has logical
    date D 02:00, after ``--to-date D`` (midnight). People count days, so the window here is
    ``first_day 00:00`` .. ``last_day 23:59:59.999999`` UTC. A backfill does not inherit the
    DAG's ``max_active_runs`` (Airflow's default is 10): 1 keeps a strictly in-order DAG in order.
    """
    body = {
        "dag_id": dag_id,
        "from_date": datetime.combine(first_day, time.min, UTC).isoformat(),
        "to_date": datetime.combine(last_day, time.max, UTC).isoformat(),
        "reprocess_behavior": reprocess,
        "max_active_runs": max_active_runs,
        "run_backwards": False,
        "dag_run_conf": {},
    }
    dag = api.dag(dag_id)
    if dag is None:
        raise ValueError(f"Airflow at {api.base_url} has no DAG {dag_id!r}")
    report = BackfillReport(dag_id, first_day, last_day, dry_run, paused=bool(dag["is_paused"]))
    preview = api.request("POST", "/backfills/dry_run", json=body)
    report.logical_dates = [run["logical_date"] for run in preview.get("backfills", [])]
    if not dry_run and report.logical_dates:
        report.backfill_id = api.request("POST", "/backfills", json=body)["id"]
    return report
