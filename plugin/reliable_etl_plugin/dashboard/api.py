"""The dashboard's FastAPI app: one router per resource, every route behind an auth dependency."""

from __future__ import annotations

from fastapi import FastAPI

from reliable_etl_plugin.dashboard.routes import checkpoints, checks, dags, errors, health, metrics, page, timeline

ROUTERS = (
    health.router,
    metrics.router,
    checkpoints.router,
    checks.router,
    timeline.router,
    errors.router,
    dags.router,
    page.router,
)


def create_app() -> FastAPI:
    # the warehouse hook's import takes seconds: now, not at the first request
    import airflow.providers.postgres.hooks.postgres  # noqa: F401

    app = FastAPI(
        title="ETL reliability dashboard",
        summary="Health, metrics, checkpoints and actions of the bundle's pipelines, inside Airflow.",
        version="1",
        docs_url=None,  # served by routes.page, behind auth
        redoc_url=None,
        openapi_url=None,
    )
    for router in ROUTERS:
        app.include_router(router)
    return app
