"""What the dashboard asks Airflow itself: which DAGs are blocked, and its REST API as the signed-in user.

A DAG is *blocked* when its earliest failed run since its last success holds later runs back
(they are running or queued: depends_on_past waits, #29524), or when a queued run sits behind
a running one (the failed day was cleared by hand): the cases ``etl recover`` mends. Read from
the metadata database in one query (the api-server's own session).

Actions go through Airflow's REST API with the user's own token (`user_api`), so the REST API
checks the user's rights once more and its audit log records the user.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from reliable_etl_plugin.recovery import AirflowApi

ACTIVE = ("running", "queued")


@dataclass
class Blocked:
    failed_run_id: str | None = None
    waiting_runs: list[str] = field(default_factory=list)


def blocked_dags(session: Session, dag_ids: set[str]) -> dict[str, Blocked]:
    """``{dag_id: what blocks it}`` for the blocked DAGs among `dag_ids`."""
    from airflow.models.dagrun import DagRun

    if not dag_ids:
        return {}
    last_success = (
        select(DagRun.dag_id, func.max(DagRun.run_after).label("run_after"))
        .where(DagRun.state == "success", DagRun.dag_id.in_(dag_ids))
        .group_by(DagRun.dag_id)
        .subquery()
    )
    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state)
        .outerjoin(last_success, last_success.c.dag_id == DagRun.dag_id)
        .where(
            DagRun.dag_id.in_(dag_ids),
            DagRun.state.in_(("failed", *ACTIVE)),
            or_(last_success.c.run_after.is_(None), DagRun.run_after > last_success.c.run_after),
        )
        .order_by(DagRun.dag_id, DagRun.run_after, DagRun.id)
    ).all()
    runs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for dag_id, run_id, state in rows:
        runs[dag_id].append((run_id, str(state)))
    found = {}
    for dag_id, dag_runs in runs.items():
        states = [state for _, state in dag_runs]
        if "failed" in states:
            anchor = states.index("failed")
        else:  # a queued run behind a running one
            anchor = next(
                (i for i, s in enumerate(states) if s == "queued" and "running" in states[i + 1 :]),
                None,
            )
        if anchor is None:
            continue
        waiting = [run_id for run_id, state in dag_runs[anchor + 1 :] if state in ACTIVE]
        if waiting:
            found[dag_id] = Blocked(dag_runs[anchor][0], waiting)
    return found


def paused_states(session: Session, dag_ids: set[str]) -> dict[str, bool]:
    """``{dag_id: is_paused}`` of the DAGs among `dag_ids` that Airflow currently knows (not stale)."""
    from airflow.models.dag import DagModel

    if not dag_ids:
        return {}
    rows = session.execute(
        select(DagModel.dag_id, DagModel.is_paused).where(DagModel.dag_id.in_(dag_ids), DagModel.is_stale.is_(False))
    ).all()
    return {dag_id: bool(paused) for dag_id, paused in rows}


def rest_api_url() -> str:
    """Where this api-server answers: ``[api] base_url``, else its own host and port."""
    from airflow.configuration import conf

    if base_url := conf.get("api", "base_url", fallback=""):
        return base_url.rstrip("/")
    host = conf.get("api", "host", fallback="") or "127.0.0.1"
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - a bind-all address: this machine
        host = "127.0.0.1"
    return f"http://{host}:{conf.getint('api', 'port', fallback=8080)}"


def user_api(token: str | None) -> AirflowApi:
    """The REST API client acting as the user whose token this is."""
    return AirflowApi(rest_api_url(), token=token)
