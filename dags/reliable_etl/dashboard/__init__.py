"""The reliability dashboard: a FastAPI app the api-server mounts at ``/etl``, and its page.

``plugins/etl_dashboard.py`` registers it (``fastapi_apps`` and an ``external_views`` entry, an
iframe of ``/etl/``). Every Airflow process loads the plugins folder (each task does, for its
macros), so importing this module builds nothing: `app` makes the FastAPI app
(``reliable_etl.dashboard.api.create_app``) when the api-server loads the plugin, or at its first request.

Routes (every one needs a signed-in user; see ``reliable_etl.dashboard.security``): ``/etl/health``,
``/etl/health/history``, ``/etl/metrics``, ``/etl/metrics/prometheus``, ``/etl/checkpoints``,
``/etl/timeline``, ``/etl/errors``, ``/etl/dags``, ``POST /etl/trigger/{dag_id}``,
``POST /etl/recover/{dag_id}``, the page ``/etl/`` and its OpenAPI page ``/etl/docs``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

URL_PREFIX = "/etl"
URL_ROUTE = "etl-reliability"  # the page's address in the UI: /plugin/etl-reliability


def external_view() -> dict[str, Any]:
    """The UI's navigation entry: our page in an iframe (same origin, so it carries the user's cookie)."""
    from airflow.configuration import conf

    root = urlsplit(conf.get("api", "base_url", fallback="") or "/").path.rstrip("/")
    return {
        "name": "Reliability",
        "href": f"{root}{URL_PREFIX}/",
        "url_route": URL_ROUTE,
        "destination": "nav",
        "nav_top_level": True,
    }


class LazyApp:
    """An ASGI app that builds the dashboard's FastAPI app when told to (`build`), else at its first request."""

    def __init__(self) -> None:
        self._app: Any = None

    def __repr__(self) -> str:
        return "reliable_etl.dashboard.api:create_app"

    def build(self) -> Any:
        """The FastAPI app, made now if it was not yet."""
        if self._app is None:  # at the first request in the event loop's thread: no await in between, no race
            from reliable_etl.dashboard.api import create_app

            self._app = create_app()
        return self._app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.build()(scope, receive, send)


app = LazyApp()
