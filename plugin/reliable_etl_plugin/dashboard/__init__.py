"""The reliability dashboard: a FastAPI app the api-server mounts at ``/etl``, and its page.

``reliable_etl_plugin.plugin`` registers it (``fastapi_apps`` and an ``external_views`` entry, an
iframe of ``/etl/``). Every Airflow process loads the plugins (each task does, for its macros),
so importing this module builds nothing: `app` makes the FastAPI app (``api.create_app``) when
the api-server loads the plugin, or at its first request.

Routes (every one needs a signed-in user; see ``security``): ``/etl/health``,
``/etl/health/history``, ``/etl/metrics``, ``/etl/metrics/prometheus``, ``/etl/checkpoints``,
``/etl/timeline``, ``/etl/errors``, ``/etl/dags``, ``POST /etl/trigger/{dag_id}``,
``POST /etl/recover/{dag_id}``, the page ``/etl/`` and its OpenAPI page ``/etl/docs``.
"""

from __future__ import annotations

import json
import logging
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
    """An ASGI app that builds the dashboard's FastAPI app when told to (`build`), else at its first request.

    A dashboard that cannot be built is an error, never a page: every request under ``/etl``
    then answers 503 with the reason, and the api-server's log holds the traceback (without this
    app, the UI's catch-all route would answer 200 with its index.html).
    """

    def __init__(self) -> None:
        self._app: Any = None

    def __repr__(self) -> str:
        return "reliable_etl_plugin.dashboard.api:create_app"

    def build(self) -> Any:
        """The FastAPI app, made now if it was not yet."""
        if self._app is None:  # at the first request in the event loop's thread: no await in between, no race
            try:
                from reliable_etl_plugin.dashboard.api import create_app

                self._app = create_app()
            except Exception as exc:
                logging.getLogger(__name__).exception("the reliability dashboard failed to load")
                self._app = failed_app(exc)
        return self._app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.build()(scope, receive, send)


def failed_app(exc: Exception) -> Any:
    """An ASGI app answering every request 503, with the reason the dashboard could not be built."""
    from reliable_etl_plugin.masking import redact

    reason = redact(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
    body = json.dumps({"detail": f"the reliability dashboard failed to load: {reason}"}).encode()

    async def answer(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return answer


app = LazyApp()
