"""The DAGs the user may read, which are blocked; the seed's admin trigger and `etl recover`, as the user.

``POST /etl/trigger/{dag_id}`` and ``POST /etl/recover/{dag_id}`` need the right to run that
DAG (``RUN``, checked by the auth manager) and are recorded in Airflow's audit log twice: as
the dashboard's action (``etl_trigger_dag`` / ``etl_recover_dag``, with the user and the DAG),
and as the REST API calls they make with the user's own token (``trigger_dag_run``,
``clear_dag_run``, ``patch_dag_run``), which Airflow authorizes again.
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.logging.decorators import action_logging
from fastapi import APIRouter, Depends, HTTPException, Query, Request

from reliable_etl_plugin import config
from reliable_etl_plugin.dashboard import airflow_state
from reliable_etl_plugin.dashboard.datamodels.dags import (
    DagsResponse,
    DagState,
    RecoverResponse,
    TriggerBody,
    TriggerResponse,
)
from reliable_etl_plugin.dashboard.secrets import mask
from reliable_etl_plugin.dashboard.security import READ, RUN, GetUserDep, can_run, readable_dag_ids, request_token
from reliable_etl_plugin.dashboard.warehouse import record_action
from reliable_etl_plugin.recovery import AirflowApiError, recover

router = APIRouter(tags=["dags"])


def _refused(exc: AirflowApiError) -> HTTPException:
    return HTTPException(exc.status_code, mask(str(exc)))


@router.get("/dags", response_model=DagsResponse, dependencies=READ, summary="DAGs, the blocked ones, what you may do")
def get_dags(user: GetUserDep, session: SessionDep) -> DagsResponse:
    paused = airflow_state.paused_states(session, readable_dag_ids(user))
    blocked = airflow_state.blocked_dags(session, set(paused))
    dags = [
        DagState(
            dag_id=dag_id,
            is_paused=paused[dag_id],
            blocked=dag_id in blocked,
            failed_run_id=blocked[dag_id].failed_run_id if dag_id in blocked else None,
            waiting_runs=blocked[dag_id].waiting_runs if dag_id in blocked else [],
            can_run=can_run(user, dag_id),
        )
        for dag_id in sorted(paused)
    ]
    return DagsResponse(user=user.get_name(), dags=dags)


@router.post(
    "/trigger/{dag_id}",
    response_model=TriggerResponse,
    dependencies=[*RUN, Depends(action_logging("etl_trigger_dag"))],
    summary="Start a manual run now (the seed's POST /trigger)",
)
def trigger_dag(dag_id: str, request: Request, user: GetUserDep, body: TriggerBody | None = None) -> TriggerResponse:
    body = body or TriggerBody()
    api = airflow_state.user_api(request_token(request))
    try:
        run = api.request(
            "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": body.conf, "note": body.note}
        )
    except AirflowApiError as exc:
        raise _refused(exc) from None
    finally:
        api.close()
    record_action(
        user.get_name(),
        "trigger",
        run["dag_run_id"],
        f"{user.get_name()} triggered {dag_id}: run {run['dag_run_id']}",
        {"dag_id": dag_id},
    )
    return TriggerResponse(
        dag_id=dag_id,
        run_id=run["dag_run_id"],
        state=run["state"],
        run_after=run.get("run_after"),
        triggered_by=user.get_name(),
    )


@router.post(
    "/recover/{dag_id}",
    response_model=RecoverResponse,
    dependencies=[*RUN, Depends(action_logging("etl_recover_dag"))],
    summary="Unblock an in-order catch-up (the code of `etl recover`)",
)
def recover_dag(
    dag_id: str,
    request: Request,
    user: GetUserDep,
    dry_run: Annotated[bool, Query(description="only say what would be done")] = False,
    keep_version: Annotated[
        bool | None,
        Query(
            description="rerun each run on the bundle version it was created with (default: the latest, "
            "or ETL_RECOVER_KEEP_VERSION)"
        ),
    ] = None,
) -> RecoverResponse:
    keep = config.recover_keep_version() if keep_version is None else keep_version
    api = airflow_state.user_api(request_token(request))
    try:
        report = recover(dag_id, airflow=api, dry_run=dry_run, latest_version=not keep)
    except AirflowApiError as exc:
        raise _refused(exc) from None
    finally:
        api.close()
    if not dry_run:
        record_action(
            user.get_name(),
            "recover",
            report.failed_run,
            f"{user.get_name()} recovered {dag_id}: cleared {len(report.cleared)} task(s),"
            f" re-queued {len(report.requeued)} run(s), on bundle version {report.version_line()}",
            {
                "dag_id": dag_id,
                "cleared": report.cleared,
                "requeued": report.requeued,
                "bundle_version": report.bundle_version,
            },
        )
    return RecoverResponse(
        dag_id=dag_id,
        dry_run=dry_run,
        changed=report.changed,
        failed_run=report.failed_run,
        cleared=report.cleared,
        requeued=report.requeued,
        latest_version=report.latest_version,
        bundle_version=report.bundle_version,
        versions=report.versions,
        summary=mask(str(report)),
        notes=report.notes,
        recovered_by=user.get_name(),
    )
