"""Who may call what: Airflow's own security dependencies, since the api-server protects no plugin app.

- ``READ``: the ops ledger of every pipeline is DAG-run data: the right to read the runs of
  all DAGs (``GET`` on ``DagAccessEntity.RUN``; SimpleAuthManager: viewer and up).
- ``RUN``: trigger and recover a DAG: the right to create its runs (``POST`` on
  ``DagAccessEntity.RUN`` for the ``dag_id`` in the path; SimpleAuthManager: user and up).
- ``PAGE``: the page itself and its OpenAPI documents: the right to see the website.

Each one answers 401 without a token (Bearer header, else the ``_token`` cookie) and 403 without
the right. The auth manager comes from ``airflow.api_fastapi.app.get_auth_manager()``: inside a
plugin's sub-app ``AuthManagerDep`` would read the sub-app's state and fail.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView, DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag, requires_access_view
from fastapi import Depends, Request

READ = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]
RUN = [Depends(requires_access_dag("POST", DagAccessEntity.RUN))]
PAGE = [Depends(requires_access_view(AccessView.WEBSITE))]

__all__ = ["PAGE", "READ", "RUN", "GetUserDep", "can_run", "readable_dag_ids", "request_token"]


def request_token(request: Request) -> str | None:
    """The JWT this request was authenticated with (as ``get_user`` picks it: the header first)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return request.cookies.get(COOKIE_NAME_JWT_TOKEN)


def can_run(user: BaseUser, dag_id: str) -> bool:
    """May `user` create runs of `dag_id` (trigger, clear, re-queue)?"""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )


def readable_dag_ids(user: BaseUser) -> set[str]:
    """The DAGs whose runs `user` may read."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")
