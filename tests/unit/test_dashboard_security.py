"""The dashboard's safety without a server: no route without auth, secrets masked, a cheap plugin import.

The roles themselves (401, 403 for a viewer, what each may do) are checked through a real
api-server in tests/e2e/test_dashboard_airflow.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from reliable_etl_dev.testing.dashboard import CONNECTION_ENV, ENV_PASSWORD, GITHUB_TOKEN, SLACK_SECRET, TEAMS_SECRET

ROOT = Path(__file__).resolve().parents[2]


def _dependency_calls(dependant) -> list:
    calls = []
    for dep in dependant.dependencies:
        calls.append(dep.call)
        calls.extend(_dependency_calls(dep))
    return calls


def test_every_route_requires_a_signed_in_user() -> None:
    from airflow.api_fastapi.core_api.security import get_user

    from reliable_etl_plugin.dashboard.api import create_app

    routes = [r for r in create_app().routes if isinstance(r, APIRoute)]
    assert len(routes) >= 14
    public = [r.path for r in routes if get_user not in _dependency_calls(r.dependant)]
    assert public == []
    # FastAPI's own documents would be public: they are off, ours are routes like the others
    paths = {r.path for r in routes}
    assert {"/docs", "/openapi.json"} <= paths


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/metrics/prometheus"),
        ("GET", "/checkpoints"),
        ("GET", "/"),
        ("GET", "/assets/dashboard.js"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
        ("POST", "/trigger/retail_daily"),
        ("POST", "/recover/retail_daily"),
    ],
)
def test_without_a_token_the_answer_is_401(method: str, path: str) -> None:
    from reliable_etl_plugin.dashboard.api import create_app

    client = TestClient(create_app())
    assert client.request(method, path).status_code == 401


def test_configured_connection_secrets_are_masked_wherever_they_appear(etl_env) -> None:
    from reliable_etl_plugin.dashboard import secrets

    for name, value in CONNECTION_ENV.items():
        etl_env.setenv(name, value)
    etl_env.setenv("AIRFLOW_CONN_BROKEN", "{not json")
    secrets.forget()
    row = {
        "error": f"POST {TEAMS_SECRET} failed; then {SLACK_SECRET}",
        "metadata": {"nested": [f"Basic me:{ENV_PASSWORD}", f"bearer {GITHUB_TOKEN}"], "count": 3},
        "other": "{not json",
        "short": "t",
    }

    masked = secrets.mask(row)

    text = json.dumps(masked)
    for secret in (TEAMS_SECRET, "teamsSig4Secret", SLACK_SECRET, ENV_PASSWORD, GITHUB_TOKEN, "{not json"):
        assert secret not in text
    assert masked["metadata"]["count"] == 3
    assert masked["short"] == "t"  # values shorter than 5 characters are not secrets we can tell
    secrets.forget()


def test_sensitive_connection_extras_are_secrets_too(etl_env) -> None:
    from reliable_etl_plugin.dashboard import secrets

    etl_env.setenv(
        "AIRFLOW_CONN_VAULTISH",
        json.dumps({"conn_type": "http", "host": "h", "extra": {"webhook_url": "https://x/hook-99", "timeout": 30}}),
    )
    secrets.forget()

    assert "https://x/hook-99" in secrets.configured_secrets()
    assert "30" not in secrets.configured_secrets()
    secrets.forget()


def test_the_plugin_is_registered_by_its_entry_point() -> None:
    """Airflow finds the plugin through the installed package's ``airflow.plugins`` entry point, no folder needed."""
    from importlib.metadata import entry_points

    (entry_point,) = [ep for ep in entry_points(group="airflow.plugins") if ep.name == "reliable_etl"]
    assert entry_point.value == "reliable_etl_plugin.plugin:ReliableEtlPlugin"
    assert entry_point.load().name == "reliable_etl"


def test_importing_the_plugin_builds_nothing() -> None:
    """Every task loads the plugins: the import must not pull FastAPI routes, Airflow's API or the bundle."""
    code = (
        "import sys, time; t = time.perf_counter(); import reliable_etl_plugin.plugin as p; "
        "took = time.perf_counter() - t; "
        "print(p.ReliableEtlPlugin.fastapi_apps[0]['url_prefix'], 'reliable_etl_plugin.dashboard.api' in sys.modules, "
        "'airflow.api_fastapi.core_api.security' in sys.modules, 'reliable_etl' in sys.modules, round(took, 3))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    prefix, app_built, api_imported, bundle_imported, _took = out.split()[-5:]
    assert (prefix, app_built, api_imported, bundle_imported) == ("/etl", "False", "False", "False")


def test_in_the_api_server_the_plugin_builds_the_app_it_registers() -> None:
    """`airflow api-server` loads the plugin once: the app is built then, and what it mounts is our ASGI app."""
    code = (
        "import sys; sys.argv = ['airflow', 'api-server']; import reliable_etl_plugin.plugin as p; "
        "from reliable_etl_plugin.dashboard import LazyApp; app = p.ReliableEtlPlugin.fastapi_apps[0]['app']; "
        "print(isinstance(app, LazyApp), app._app is not None, type(app.build()).__name__, "
        "'reliable_etl' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split()[-4:] == ["True", "True", "FastAPI", "False"]


def test_a_dashboard_that_cannot_load_answers_503_with_the_reason_never_a_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A broken install must be visible: without this, the UI's catch-all route answers 200 with its index.html."""
    from reliable_etl_plugin import dashboard
    from reliable_etl_plugin.dashboard import api

    def broken() -> None:
        raise ModuleNotFoundError("No module named 'psycopg'", name="psycopg")

    monkeypatch.setattr(api, "create_app", broken)
    client = TestClient(dashboard.LazyApp())
    for path in ("/health", "/", "/metrics/prometheus"):
        resp = client.get(path)
        assert resp.status_code == 503
        assert resp.headers["content-type"] == "application/json"
        assert resp.json() == {
            "detail": "the reliability dashboard failed to load: ModuleNotFoundError: No module named 'psycopg'"
        }


def test_the_external_view_opens_our_page_in_the_ui() -> None:
    from reliable_etl_plugin.dashboard import external_view

    view = external_view()
    assert (view["href"], view["url_route"], view["destination"]) == ("/etl/", "etl-reliability", "nav")


def test_local_airflow_with_users_turns_the_login_on(tmp_path: Path) -> None:
    from reliable_etl_dev.airflow_local import LocalAirflow

    af = LocalAirflow(tmp_path / "home", tmp_path, auth_users={"ada": "admin", "val": "viewer"})
    env = af.environ()

    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "ada:admin,val:viewer"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(af.passwords_file)
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(af.home / "plugins")  # plugins: the installed ones only
    assert af.api.username == "ada"  # the helpers act as the first admin
    assert af.password("ada") != af.password("val")
    with pytest.raises(ValueError, match="needs an admin"):
        LocalAirflow(tmp_path / "home2", tmp_path, auth_users={"val": "viewer"})
    # without users: every request an admin, as before
    assert LocalAirflow(tmp_path / "h3", tmp_path).environ()["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"


def test_airflow_api_sends_a_given_token(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = b'{"version": "3.3.2"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    from reliable_etl_plugin.recovery import AirflowApi

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        AirflowApi(url, token="user-jwt").request("GET", "/version")
        AirflowApi(url).request("GET", "/version")
    finally:
        server.shutdown()
    assert seen == ["Bearer user-jwt", None]


def test_a_warehouse_that_does_not_answer_is_a_503_naming_the_server_not_its_password(etl_env) -> None:
    from fastapi import HTTPException

    from reliable_etl_plugin.dashboard import warehouse

    etl_env.setenv("AIRFLOW_CONN_WAREHOUSE", "postgresql://etl:TopSecret99@127.0.0.1:9/warehouse")
    with pytest.raises(HTTPException) as refused:
        next(warehouse.reader())

    assert refused.value.status_code == 503
    assert "127.0.0.1:9" in refused.value.detail
    assert "TopSecret99" not in refused.value.detail
