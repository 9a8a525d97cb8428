"""Alerts: de-duplicated notifications of unhealthy checks and failing jobs; Deadline Alerts for the DAGs.

``evaluate(key, failing, ...)`` is called after every check with the condition's outcome. A
condition that keeps failing notifies ONCE when it starts firing and ONCE when it recovers,
however many checks see it meanwhile: the state is a row of ``ops.alert_state`` per key
(``health:redis``, ``watchdog:retail_daily``, ``job:backup_critical_data``), locked while the
decision and its notification are made, so two checks at once never both send.

- *Repeated failures*: a condition fires after ``after`` consecutive failing checks: the
  30-minute health check uses ``ETL_ALERT_AFTER_FAILURES`` (default 2: one blip is not a page),
  the others fire at their first failure.
- When the warehouse is down (the health check's most important case), the state is kept in
  Redis (``<prefix>alert:<key>``) and merged into the table when the warehouse is back; with
  both down the alert is sent without de-duplication (an outage must not be silent).

Messages go through ``reliable_etl.notify`` (Slack, Teams, email; a missing Connection is skipped).

Deadline Alerts: ``deadline_alert(...)`` builds the ``DeadlineAlert`` of a DAG: its run must
finish by its logical date + an interval, else the triggerer sends a Slack message (an
``AsyncCallback`` awaiting the Slack provider's ``SlackWebhookNotifier``, Connection
``notify_slack``); runs queued after their deadline (catch-up) are logged, not sent.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reliable_etl.config import settings

if TYPE_CHECKING:
    from airflow.sdk import DeadlineAlert

    from reliable_etl.ops.logs import PipelineLogger

FIRED, RESOLVED = "fired", "resolved"


@dataclass
class State:
    firing: bool = False
    consecutive_failures: int = 0
    first_failed_at: dt.datetime | None = None
    fired_at: dt.datetime | None = None


@dataclass
class Decision:
    action: str | None  # fired | resolved | None
    state: State
    sent: dict[str, str] | None = None
    store: str = "table"  # table | redis | none


def decide(state: State, failing: bool, after: int, now: dt.datetime) -> tuple[str | None, State]:
    """The pure rule: fire after ``after`` consecutive failures, resolve at the first success after firing."""
    if failing:
        count = state.consecutive_failures + 1
        first = state.first_failed_at or now
        if not state.firing and count >= after:
            return FIRED, State(True, count, first, now)
        return None, State(state.firing, count, first, state.fired_at)
    if state.firing:
        return RESOLVED, State()
    return None, State()


@dataclass(frozen=True)
class Check:
    """One check of one condition: its key, whether it fails now, what to say, after how many failures."""

    key: str
    failing: bool
    summary: str
    items: list[dict] = field(default_factory=list)
    after: int = 1


def report_for(check: Check, action: str, before: State, *, pipeline: str, run_id: str | None):
    """The RunReport sent: an error when the condition fires, a success when it recovers."""
    from reliable_etl.notify import RunReport

    run_id = run_id or check.key
    if action == FIRED:
        return RunReport(pipeline, run_id, "error", f"{check.summary} [{check.key}]", check.items)
    since = f" (failing since {before.first_failed_at:%Y-%m-%d %H:%M} UTC)" if before.first_failed_at else ""
    return RunReport(pipeline, run_id, "success", f"recovered{since}: {check.summary} [{check.key}]", check.items)


def _send(check: Check, action: str | None, before: State, *, pipeline: str, run_id: str | None):
    from reliable_etl.notify import notify

    return notify(report_for(check, action, before, pipeline=pipeline, run_id=run_id)) if action else None


# --- the two stores -------------------------------------------------------------------------------


def _redis_state(client, key: str) -> State | None:
    from reliable_etl.maintenance.services import redis_key

    raw = client.get(redis_key("alert", key))
    if raw is None:
        return None
    data = json.loads(raw)
    return State(
        data["firing"],
        data["consecutive_failures"],
        dt.datetime.fromisoformat(data["first_failed_at"]) if data["first_failed_at"] else None,
        dt.datetime.fromisoformat(data["fired_at"]) if data["fired_at"] else None,
    )


def _save_redis_state(client, key: str, state: State) -> None:
    from reliable_etl.maintenance.services import redis_key

    data = {
        "firing": state.firing,
        "consecutive_failures": state.consecutive_failures,
        "first_failed_at": state.first_failed_at.isoformat() if state.first_failed_at else None,
        "fired_at": state.fired_at.isoformat() if state.fired_at else None,
    }
    client.set(redis_key("alert", key), json.dumps(data), ex=30 * 86400)


def _merge(table: State, redis: State | None) -> State:
    """State kept in Redis during a warehouse outage, folded into the table's."""
    if redis is None:
        return table
    return State(
        table.firing or redis.firing,
        max(table.consecutive_failures, redis.consecutive_failures),
        table.first_failed_at or redis.first_failed_at,
        table.fired_at or redis.fired_at,
    )


def _redis_or_none():
    from reliable_etl.maintenance.services import redis_client, service_down

    try:
        client = redis_client()
        client.ping()
    except Exception as exc:
        if not service_down(exc):
            raise
        return None
    return client


def _in_table(conn, client, check: Check, now: dt.datetime, **who) -> Decision:
    from reliable_etl import db

    db.run_sql(conn, "maintenance/insert_alert_key", {"alert_key": check.key})
    row = db.run_sql(conn, "maintenance/select_alert_state", {"alert_key": check.key}).fetchone()
    before = _merge(State(*row), _redis_state(client, check.key) if client else None)
    action, after_state = decide(before, check.failing, check.after, now)
    sent = _send(check, action, before, **who)
    db.run_sql(
        conn,
        "maintenance/update_alert_state",
        {
            "alert_key": check.key,
            "firing": after_state.firing,
            "consecutive_failures": after_state.consecutive_failures,
            "first_failed_at": after_state.first_failed_at,
            "fired_at": after_state.fired_at,
            "failing": check.failing,
            "resolved": action == RESOLVED,
            "message": check.summary[:2000],
            "sent": 1 if action else 0,
        },
    )
    return Decision(action, after_state, sent, "table")


def _in_redis(client, check: Check, now: dt.datetime, **who) -> Decision:
    before = (_redis_state(client, check.key) if client else None) or State()
    if client is None:  # nowhere to remember: an outage must not be silent
        before = State(firing=False, consecutive_failures=max(check.after - 1, 0))
    action, after_state = decide(before, check.failing, check.after, now)
    sent = _send(check, action, before, **who)
    if client:
        _save_redis_state(client, check.key, after_state)
    return Decision(action, after_state, sent, "redis" if client else "none")


def evaluate_all(
    checks: list[Check],
    *,
    pipeline: str = "etl_maintenance",
    run_id: str | None = None,
    log: PipelineLogger | None = None,
) -> list[Decision]:
    """Record one check of each condition (one connection, one transaction each); notify on changes."""
    from reliable_etl import db
    from reliable_etl.maintenance.services import connection_lost, describe, logger, redis_key, service_down

    log = log or logger("alerts", run_id)
    now = dt.datetime.now(dt.UTC)
    client = _redis_or_none()
    decisions: dict[str, Decision] = {}
    try:
        with db.connect(autocommit=True, application_name="etl alerts") as conn:
            for check in checks:
                with conn.transaction():  # the row stays locked until its notification is sent
                    decisions[check.key] = _in_table(conn, client, check, now, pipeline=pipeline, run_id=run_id)
                if client:
                    client.delete(redis_key("alert", check.key))  # folded into the table
    except Exception as exc:
        if not (connection_lost(exc) or service_down(exc)):
            raise
        log.warning("alerts: ops.alert_state unreachable (%s): de-duplicating in Redis", describe(exc))
        for check in checks:
            if check.key not in decisions:
                decisions[check.key] = _in_redis(client, check, now, pipeline=pipeline, run_id=run_id)
    for check in checks:
        if action := decisions[check.key].action:
            log.info("alert %s %s: %s (notifications: %s)", check.key, action, check.summary, decisions[check.key].sent)
    return [decisions[check.key] for check in checks]


def evaluate(
    key: str,
    failing: bool,
    summary: str,
    *,
    items: list[dict] | None = None,
    after: int = 1,
    pipeline: str = "etl_maintenance",
    run_id: str | None = None,
    log: PipelineLogger | None = None,
) -> Decision:
    """Record one check of condition ``key``; notify when it starts firing or recovers."""
    return evaluate_all([Check(key, failing, summary, items or [], after)], pipeline=pipeline, run_id=run_id, log=log)[
        0
    ]


# --- Deadline Alerts (the callback lives in reliable_etl_plugin.deadlines: the triggerer has no bundle) ---


def retail_deadline() -> DeadlineAlert:
    """Day D's run (logical date D 02:00, data interval to D+1 02:00) done ETL_RETAIL_DEADLINE_HOURS after it."""
    from reliable_etl_plugin.deadlines import deadline_alert

    hours = settings().retail_deadline_hours
    return deadline_alert(
        "retail_daily", dt.timedelta(days=1, hours=hours), promise=f"due {hours:g} h after its data interval ends"
    )


def files_deadline() -> DeadlineAlert:
    """The night's run (02:00 UTC) done by morning: ETL_FILES_DEADLINE_HOURS after 02:00."""
    from reliable_etl_plugin.deadlines import deadline_alert

    hours = settings().files_deadline_hours
    return deadline_alert("files_nightly", dt.timedelta(hours=hours), promise=f"due by {2 + hours:g}:00 UTC")
