"""The freshness watchdog: is each pipeline's data current, and if retail is behind, repair it.

It reads the warehouse first (the data is the truth, Airflow's state second):

- **retail_daily**: the days from ``ETL_RETAIL_START_DATE`` through the last one due (day D is
  due ``ETL_WATCHDOG_GRACE_HOURS`` after its run is queued at D+1 02:00 UTC) without a row in
  ``silver.day_fingerprint``: never processed, or deleted since. Against Airflow's runs:
  a *failed* run; a run *blocked* behind it (running or queued, later than the earliest failed
  or stuck day: with depends_on_past it cannot finish); a day whose run *succeeded* but whose
  data is gone; a day *missing* a run the scheduler will never create (earlier than the DAG's
  next scheduled run: catchup only moves forward). Days after that are the scheduler's own
  catch-up and are only reported.
- **engineering_sync**: per entity of ``ops.sync_jobs``, the last finished pass; stuck (RUNNING
  with no worker holding its lock), FAILED, needing attention, paused; behind when the oldest
  last pass is older than ``ETL_WATCHDOG_SYNC_MAX_AGE_HOURS``.
- **files_nightly**: the last successful night in ``ops.pipeline_runs``; the last run's state.

Repair (``repair=True``, the etl_health DAG; ``etl health --repair``) when retail is behind:
the runs whose data is gone are cleared, the never-created days get a run (logical date D
02:00, data interval [D 02:00, D+1 02:00), run_after its end, so the scheduler sorts it among
the others), then ``reliable_etl_plugin.recovery.recover`` (the code of ``etl recover``) clears the failed day
and re-queues the blocked ones: the scheduler runs every day in order. A paused DAG is reported,
not unpaused and not repaired. Units a dead process left in progress are closed first
(``reap_lost_units``) and listed. On every pass, repair or not, runs whose holder is gone (a
dead ``etl`` process, an Airflow run that ended with its ledger row open) are closed as failed,
"process lost" (``reliable_etl.ops.holders``), and listed.

Result per pipeline, the seed's shape: ``{status: healthy|unhealthy|unknown|error,
last_data_date, days_behind, action: none|triggered_catch_up|catch_up_needed|paused|repair_failed,
details}``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row

from reliable_etl import db
from reliable_etl.config import settings
from reliable_etl.maintenance import services
from reliable_etl.maintenance.services import describe, service_down
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.retail.load import restated_days, stale_days

JOB = "watchdog"
RETAIL, SYNC, FILES = "retail_daily", "engineering_sync", "files_nightly"
PIPELINES = {"retail": RETAIL, "sync": SYNC, "files": FILES}
MAX_LISTED = 30  # days listed in details; the rest are counted
RUN_HOUR = 2  # retail_daily and files_nightly run at 02:00 UTC
ACTIVE = {"queued", "running"}


@dataclass
class PipelineHealth:
    pipeline: str
    status: str = "unknown"
    last_data_date: dt.date | None = None
    days_behind: int | None = None
    action: str = "none"
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "last_data_date": self.last_data_date.isoformat() if self.last_data_date else None,
            "days_behind": self.days_behind,
            "action": self.action,
            "details": self.details,
        }


@dataclass
class WatchdogReport:
    timestamp: dt.datetime
    pipelines: dict[str, PipelineHealth] = field(default_factory=dict)
    lost_units_closed: dict[str, list[str]] = field(default_factory=dict)
    dead_runs_closed: list[str] = field(default_factory=list)  # "pipeline run_id" whose holder is gone
    warehouse_available: bool = True

    @property
    def status(self) -> str:
        states = {p.status for p in self.pipelines.values()}
        for status in ("error", "unhealthy", "healthy"):  # the worst; unknown only when nothing is known
            if status in states:
                return status
        return "unknown"

    def as_dict(self) -> dict:
        return {
            "timestamp": self.timestamp.isoformat(),
            "status": self.status,
            "pipelines": {name: p.as_dict() for name, p in self.pipelines.items()},
            "lost_units_closed": self.lost_units_closed,
            "dead_runs_closed": self.dead_runs_closed,
            "postgres_available": self.warehouse_available,
        }


def _listed(days: list[dt.date]) -> list[str]:
    shown = [d.isoformat() for d in days[:MAX_LISTED]]
    return [*shown, f"... and {len(days) - MAX_LISTED} more"] if len(days) > MAX_LISTED else shown


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def last_due_day(now: dt.datetime) -> dt.date:
    """The latest day D whose run (queued at D+1 02:00 UTC) should have finished by ``now``."""
    due_until = now - dt.timedelta(hours=settings().watchdog_grace_hours + RUN_HOUR)
    return due_until.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def run_day(run: dict) -> dt.date | None:
    """The day a retail_daily run processes: the start of its data interval."""
    start = _parse(run.get("data_interval_start")) or _parse(run.get("logical_date"))
    return start.astimezone(dt.UTC).date() if start else None


# --- retail -------------------------------------------------------------------------------------


def _retail_warehouse(
    health: PipelineHealth, now: dt.datetime, log: PipelineLogger
) -> tuple[list[dt.date], list[dt.date]]:
    """Retail's freshness in the warehouse; returns the missing days and the restated ones."""
    cfg = settings()
    last_due = last_due_day(now)
    if cfg.retail_end_date:
        last_due = min(last_due, cfg.retail_end_date)
    with db.connect(autocommit=True, application_name="etl watchdog") as conn:
        last_day, missing = db.run_sql(
            conn, "maintenance/select_retail_days", {"first_day": cfg.retail_start_date, "last_day": last_due}
        ).fetchone()
        commits = db.run_sql(conn, "maintenance/select_retail_recent_commits", {"batch_size": 10}).fetchall()
    health.last_data_date = last_day
    if last_due < cfg.retail_start_date:
        health.days_behind = 0
    else:
        health.days_behind = max((last_due - (last_day or cfg.retail_start_date - dt.timedelta(days=1))).days, 0)
    health.details.update(
        expected_through=last_due.isoformat(),
        missing_days=_listed(missing),
        missing_count=len(missing),
        recent_commits=[f"{day} {at:%Y-%m-%d %H:%M:%S}" for day, at in commits],
    )
    restated = restated_days()
    if restated:  # repaired like lost data: the day's run again, its month republished
        health.details.update(
            restated_days=[str(r) for r in restated[:MAX_LISTED]],
            restated_count=len(restated),
            restated_note="delivered again with other bytes after they were loaded; repair re-runs them in order"
            " and republishes their months (`etl retail run --restated` without Airflow)",
        )
        log.warning(
            "watchdog: %d restated day(s) of retail: %s",
            len(restated),
            ", ".join(str(r) for r in restated[:MAX_LISTED]),
            metadata={"restated": [r.day.isoformat() for r in restated]},
        )
    stale = stale_days()
    if stale:  # reported, not repaired: reloading history is a person's decision
        health.details.update(
            stale_days=_listed(stale),
            stale_count=len(stale),
            stale_note="loaded with other validation rules than the current ones;"
            " `etl retail run --stale` loads them again, in order, and republishes their months",
        )
    return list(missing), [r.day for r in restated]


def retail_plan(
    runs: list[dict], dag: dict, missing: list[dt.date], restated: list[dt.date] | tuple = ()
) -> dict[str, list]:
    """What repair would do, from Airflow's runs, the days missing in the warehouse and the restated ones."""
    by_day: dict[dt.date, dict] = {}
    for run in runs:  # oldest first; an active run, else the latest, speaks for its day
        day = run_day(run)
        if day and (day not in by_day or by_day[day]["state"] not in ACTIVE):
            by_day[day] = run
    failed = sorted(day for day, run in by_day.items() if run["state"] == "failed")
    next_day = run_day({"data_interval_start": dag.get("next_dagrun_data_interval_start")})
    plan: dict[str, list] = {
        "failed": [],
        "rerun_deleted": [],
        "rerun_restated": [],
        "rerun": [],  # both, in day order
        "create": [],
        "in_progress": [],
        "scheduler": [],
    }
    for day in failed:
        plan["failed"].append(by_day[day]["dag_run_id"])
    for day in sorted({*missing, *restated}):
        run = by_day.get(day)
        if run is None:
            # catchup only moves forward: a day before the next scheduled run is never created
            plan["create" if next_day is None or day < next_day else "scheduler"].append(day)
        elif run["state"] == "success":
            plan["rerun_deleted" if day in missing else "rerun_restated"].append(run["dag_run_id"])
            plan["rerun"].append(run["dag_run_id"])
        elif run["state"] in ACTIVE:
            plan["in_progress"].append(run["dag_run_id"])
    # blocked: active runs after the earliest failed day (depends_on_past holds them), and
    # running runs after a queued one (the slot is taken: apache/airflow#29524)
    queued = [day for day, run in by_day.items() if run["state"] == "queued"]
    earliest = min(failed + queued, default=None)
    plan["blocked"] = [
        run["dag_run_id"]
        for day, run in sorted(by_day.items())
        if earliest and day > earliest and (run["state"] == "running" or (failed and run["state"] in ACTIVE))
    ]
    rerun = plan["failed"] + plan["rerun"]
    plan["days"] = sorted({day for day, run in by_day.items() if run["dag_run_id"] in rerun} | set(plan["create"]))
    return plan


def _create_run(api, day: dt.date) -> str:
    start = dt.datetime.combine(day, dt.time(RUN_HOUR), dt.UTC)
    end = start + dt.timedelta(days=1)
    run_id = f"watchdog__{start.isoformat()}"
    api.request(
        "POST",
        f"/dags/{RETAIL}/dagRuns",
        json={
            "dag_run_id": run_id,
            "logical_date": start.isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
            "run_after": end.isoformat(),  # sorted among the scheduled runs by the scheduler
            "conf": {},
            "note": f"created by the watchdog: the scheduler never created day {day}",
        },
    )
    return run_id


def _repair_retail(api, plan: dict, log: PipelineLogger) -> dict:
    from reliable_etl_plugin.recovery import recover

    latest = not settings().recover_keep_version
    done: dict[str, Any] = {"cleared": [], "created": []}
    for run_id in plan["rerun"]:  # oldest first: the scheduler starts them by run_after
        api.clear_run(RETAIL, run_id, only_failed=False, latest_version=latest)
        done["cleared"].append(run_id)
        why = "input restated" if run_id in plan["rerun_restated"] else "data gone"
        log.info("watchdog: %s: %s, run %s cleared to run again", RETAIL, why, run_id)
    for day in plan["create"]:
        done["created"].append(_create_run(api, day))
        log.info("watchdog: %s: created run %s for day %s", RETAIL, done["created"][-1], day)
    report = recover(RETAIL, airflow=api, latest_version=latest)
    done["recovered"] = {
        "failed_run": report.failed_run,
        "cleared": report.cleared,
        "requeued": report.requeued,
        "bundle_version": report.bundle_version,
    }
    if report.failed_run:
        log.info(
            "watchdog: %s: recovered from run %s on bundle version %s", RETAIL, report.failed_run, report.version_line()
        )
    if report.notes:
        done["notes"] = report.notes
    return done


def check_retail(health: PipelineHealth, api, *, repair: bool, now: dt.datetime, log: PipelineLogger) -> None:
    missing, restated = _retail_warehouse(health, now, log)
    problems = bool(missing or restated) or bool(health.days_behind) or bool(health.details.get("stale_count"))
    if api is None:
        health.status = "unhealthy" if problems else "healthy"
        return
    dag = api.dag(RETAIL)
    if dag is None:
        health.details["airflow"] = f"{RETAIL} is not in Airflow (not parsed, or deleted)"
        health.status = "unhealthy" if problems else "healthy"
        return
    plan = retail_plan(api.dag_runs(RETAIL), dag, missing, restated)
    health.details.update(
        paused=bool(dag["is_paused"]),
        failed_runs=plan["failed"],
        blocked_runs=plan["blocked"],
        data_gone_runs=plan["rerun_deleted"],
        restated_runs=plan["rerun_restated"],
        never_created_days=_listed(plan["create"]),
        in_progress_runs=plan["in_progress"],
        scheduler_catch_up_days=len(plan["scheduler"]),
    )
    needs_repair = bool(plan["failed"] or plan["rerun"] or plan["create"])
    health.status = "unhealthy" if problems or needs_repair or plan["blocked"] else "healthy"
    if needs_repair:
        health.details["repair_days_in_order"] = [d.isoformat() for d in plan["days"]]
    if dag["is_paused"] and health.status == "unhealthy":
        health.action = "paused"
        health.details["note"] = f"{RETAIL} is paused: reported, not repaired and not unpaused; unpause it to catch up"
        log.warning("watchdog: %s is behind but paused: not repaired", RETAIL)
        return
    if not needs_repair:
        return
    if not repair:
        health.action = "catch_up_needed"
        return
    try:
        health.details["repair"] = _repair_retail(api, plan, log)
        health.action = "triggered_catch_up"
        log.info(
            "watchdog: %s: catch-up triggered for %s",
            RETAIL,
            ", ".join(health.details["repair_days_in_order"]),
            metadata={"repair": health.details["repair"]},
        )
    except Exception as exc:
        health.action = "repair_failed"
        health.details["repair_error"] = describe(exc)
        log.warning("watchdog: %s: repair failed: %s", RETAIL, describe(exc))


# --- syncs and files ----------------------------------------------------------------------------


def _airflow_runs(health: PipelineHealth, api, dag_id: str, *, every: dt.timedelta, now: dt.datetime) -> bool:
    """The DAG's last runs (one API call): failed ones, and a run missing (none for two intervals,
    while unpaused: the scheduler is not creating them). True when that makes the pipeline unhealthy."""
    if api is None:
        return False
    dag = api.dag(dag_id)
    if dag is None:
        health.details["airflow"] = f"{dag_id} is not in Airflow (not parsed, or deleted)"
        return True
    runs = api.request("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 10})["dag_runs"]
    last_after = _parse(runs[0]["run_after"]) if runs else None
    missing = not dag["is_paused"] and (last_after is None or now - last_after > 2 * every)
    health.details.update(
        dag_paused=bool(dag["is_paused"]),
        recent_failed_runs=[r["dag_run_id"] for r in runs if r["state"] == "failed"],
        last_run={"run_id": runs[0]["dag_run_id"], "state": runs[0]["state"]} if runs else None,
        missing_runs=f"no run since {last_after or 'ever'} although unpaused" if missing else None,
    )
    return missing


def check_sync(health: PipelineHealth, api, *, now: dt.datetime) -> None:
    cfg = settings()
    with db.connect(autocommit=True, application_name="etl watchdog") as conn, conn.cursor(row_factory=dict_row) as cur:
        jobs = cur.execute(db.load_sql("maintenance/select_sync_health")).fetchall()
    if not jobs:
        health.details["note"] = "no sync job yet (ETL_GITHUB_REPOS / ETL_JIRA_PROJECTS)"
        return

    def entity(job: dict) -> str:
        return f"{job['service']} {job['entity']}"

    stuck = [entity(j) for j in jobs if j["status"] == "RUNNING" and not j["worker_holds_lock"]]
    failed = [entity(j) for j in jobs if j["status"] == "FAILED"]
    attention = [f"{entity(j)}: {j['last_error'] or 'see etl sync status'}" for j in jobs if j["needs_attention"]]
    paused = [entity(j) for j in jobs if j["status"] == "PAUSED"]
    watched = [j for j in jobs if j["status"] != "PAUSED"]
    never = [entity(j) for j in watched if j["last_sync_at"] is None]
    oldest = min((j["last_sync_at"] for j in watched if j["last_sync_at"]), default=None)
    health.last_data_date = oldest.date() if oldest else None
    age_h = (now - oldest).total_seconds() / 3600 if oldest else None
    health.days_behind = int(age_h // 24) if age_h is not None else None
    stale = [
        entity(j)
        for j in watched
        if j["last_sync_at"] and (now - j["last_sync_at"]).total_seconds() / 3600 > cfg.watchdog_sync_max_age_hours
    ]
    health.details.update(
        entities=len(jobs),
        oldest_pass_hours=round(age_h, 1) if age_h is not None else None,
        stale=stale,
        stuck=stuck,
        failed=failed,
        needs_attention=attention,
        paused=paused,
        never_finished=never,
    )
    late_runs = _airflow_runs(health, api, SYNC, every=dt.timedelta(hours=1), now=now)
    health.status = "unhealthy" if stuck or failed or attention or stale or never or late_runs else "healthy"


def check_files(health: PipelineHealth, api, *, now: dt.datetime) -> None:
    from reliable_etl.files import PIPELINE as FILES_PIPELINE

    cfg = settings()
    with db.connect(autocommit=True, application_name="etl watchdog") as conn:
        last_success, last_status, last_started, last_error = db.run_sql(
            conn, "maintenance/select_files_health", {"pipeline_name": FILES_PIPELINE}
        ).fetchone()
    late_runs = _airflow_runs(health, api, FILES, every=dt.timedelta(days=1), now=now)
    if last_status is None:
        health.details["note"] = "no run of files_nightly yet"
        health.status = "unhealthy" if late_runs else "unknown"
        return
    # the night N run starts at 02:00 UTC and may wait ETL_FILES_WAIT_HOURS for its files
    expected = (now - dt.timedelta(hours=RUN_HOUR + cfg.files_wait_hours + 1)).astimezone(dt.UTC).date()
    health.last_data_date = last_success.astimezone(dt.UTC).date() if last_success else None
    health.days_behind = max((expected - health.last_data_date).days, 0) if health.last_data_date else None
    health.details.update(
        expected_night=expected.isoformat(),
        last_run_status=last_status,
        last_run_started_at=last_started.isoformat(),
        last_error=last_error,
    )
    behind = health.days_behind is None or health.days_behind > 0
    health.status = "unhealthy" if behind or last_status == "failed" or late_runs else "healthy"


# --- the watchdog -----------------------------------------------------------------------------------

CHECKS = {"retail": check_retail, "sync": check_sync, "files": check_files}


def _airflow(api):
    """The REST API client if Airflow answers; (None, why) otherwise."""
    if api is False:
        return None, "not asked"
    try:
        from reliable_etl_plugin.recovery import AirflowApi

        api = api or AirflowApi.from_connection()
        api.request("GET", "/version")
    except Exception as exc:
        return None, f"unreachable: {describe(exc)}"
    return api, None


def _close_what_died(report: WatchdogReport, *, repair: bool, run_id: str, log: PipelineLogger) -> None:
    """Every pass: the runs whose holder is gone; with repair, the units a dead process left in progress."""
    from reliable_etl.ops.holders import close_dead_runs
    from reliable_etl.ops.units import reap_lost_units

    try:
        report.dead_runs_closed = close_dead_runs(None, found_by=run_id, log=log)
        if repair:
            report.lost_units_closed = {k: v for k, v in reap_lost_units(run_id=run_id, log=log).items() if v}
    except Exception as exc:
        if not service_down(exc):
            raise
        report.warehouse_available = False


def watchdog(
    *,
    run_id: str | None = None,
    repair: bool = False,
    airflow=None,
    pipelines: tuple[str, ...] | None = None,
    now: dt.datetime | None = None,
    log: PipelineLogger | None = None,
) -> WatchdogReport:
    """Check every pipeline's freshness; with ``repair``, trigger retail's catch-up and close lost units.

    ``airflow``: an ``AirflowApi`` (default: the ``airflow_api`` Connection), or False for the
    warehouse alone. A service that is down is reported in the result, never raised.
    """
    log = log or services.logger(JOB, run_id)
    now = now or dt.datetime.now(dt.UTC)
    report = WatchdogReport(timestamp=now)
    api, why = _airflow(airflow)
    _close_what_died(report, repair=repair, run_id=run_id or JOB, log=log)
    for name in pipelines or settings().watchdog_pipelines:
        dag_id = PIPELINES[name]
        health = PipelineHealth(dag_id)
        report.pipelines[dag_id] = health
        if why:
            health.details["airflow"] = why
        try:
            if name == "retail":
                check_retail(health, api, repair=repair, now=now, log=log)
            else:
                CHECKS[name](health, api, now=now)
        except Exception as exc:
            health.status = "unknown" if service_down(exc) else "error"
            health.details["error"] = describe(exc)
            if service_down(exc):
                report.warehouse_available = False
                log.warning("watchdog: %s: %s", dag_id, describe(exc))
            else:
                log.error("watchdog: %s: check failed: %s", dag_id, describe(exc))
        else:
            level = log.warning if health.status == "unhealthy" else log.info
            level(
                "watchdog: %s %s (last data %s, %s days behind, action %s)",
                dag_id,
                health.status,
                health.last_data_date,
                health.days_behind,
                health.action,
                metadata=health.as_dict(),
            )
    return report
