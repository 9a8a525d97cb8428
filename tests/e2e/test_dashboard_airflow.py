"""The reliability dashboard inside a real Airflow: its API through the api-server, its page in Chromium.

One Airflow for the module (LocalAirflow: api-server, scheduler, dag-processor, triggerer; the
bundle's plugins folder; SimpleAuthManager with an admin, a user and a viewer, not all-admins
mode). The warehouse holds known rows (reliable_etl_dev.testing.dashboard), then, for the page, the
shipped sample loaded through the daily path. Toy DAGs (tests/fixtures/dags/): a manual one to
trigger (toy_manual.py), and two strictly in-order catch-ups whose day 2 fails while a marker file
exists (day 3 then waits: blocked): toy_blocked.py, copied as toy_blocked_api.py and toy_blocked_page.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reliable_etl_dev import SAMPLE_CSV, scratch
from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.testing import FIXTURE_DAGS
from reliable_etl_dev.testing.dashboard import (
    CONNECTION_ENV,
    DB_PASSWORD,
    EXPECTED,
    SECRETS,
    TABLES,
    expected_window,
    seed,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = SAMPLE_CSV
USERS = {"ada": "admin", "uma": "user", "val": "viewer"}
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
RETAIL_WINDOW = {"ETL_RETAIL_START_DATE": "2011-01-24", "ETL_RETAIL_END_DATE": "2011-02-08"}
GET_ROUTES = (
    "/etl/health",
    "/etl/health/history",
    "/etl/metrics",
    "/etl/metrics/prometheus",
    "/etl/checkpoints",
    "/etl/checks",
    "/etl/timeline",
    "/etl/errors",
    "/etl/dags",
    "/etl/",
    "/etl/assets/dashboard.js",
    "/etl/docs",
    "/etl/openapi.json",
)


@dataclass
class Dashboard:
    af: LocalAirflow
    tmp: Path
    tokens: dict[str, str]

    def client(self, user: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.Client(base_url=self.af.base_url, headers=headers, timeout=60)

    def get(self, path: str, user: str = "val") -> httpx.Response:
        with self.client(user) as client:
            return client.get(path)

    def post(self, path: str, user: str, **kwargs) -> httpx.Response:
        with self.client(user) as client:
            return client.post(path, **kwargs)

    def marker(self, dag_id: str) -> Path:
        return self.tmp / f"{dag_id}.fail"

    def processed(self, dag_id: str) -> list[str]:
        path = self.tmp / f"{dag_id}.log"
        return path.read_text().split() if path.exists() else []

    def runs_by_day(self, dag_id: str) -> dict[str, object]:
        return {r.logical_date.date().isoformat(): r for r in self.af.runs(dag_id) if r.logical_date}

    def wait_blocked(self, dag_id: str) -> dict[str, object]:
        """Unpause an in-order toy DAG and wait until day 2 failed and day 3 waits behind it."""
        self.af.unpause(dag_id)

        def blocked():
            runs = self.runs_by_day(dag_id)
            return (
                runs
                if runs.get(DAYS[1]) and runs[DAYS[1]].state == "failed" and runs.get(DAYS[2])
                and runs[DAYS[2]].state == "running"
                else None
            )  # fmt: skip

        return self.af.wait_until(blocked, timeout=180, what=f"{dag_id}: day 2 failed and day 3 running")

    def wait_all_done(self, dag_id: str) -> None:
        def done() -> bool:
            runs = self.af.runs(dag_id)
            return len(runs) == len(DAYS) and all(r.state == "success" for r in runs)

        self.af.wait_until(done, timeout=180, what=f"{dag_id}: every day succeeded")

    def audit(self, event: str, dag_id: str) -> list[dict]:
        logs = self.af.api.request(
            "GET", "/eventLogs", params={"event": event, "dag_id": dag_id, "limit": 100, "order_by": "-when"}
        )["event_logs"]
        return [e for e in logs if e["event"] == event and e["dag_id"] == dag_id]


@pytest.fixture(scope="module")
def warehouse(schema: str) -> Iterator[psycopg.Connection]:
    from reliable_etl import db

    with db.connect(autocommit=True, application_name="etl dashboard tests") as conn:
        seed(conn)
        yield conn
        sample = (
            "silver.fact_sales_daily, bronze.retail_sales, gold.fact_sales_monthly, gold.fact_product_performance,"
            " gold.fact_country_sales, ops.pipeline_checkpoint, ops.rejected_rows"
        )
        conn.execute(f"truncate {TABLES}, {sample}")  # the next modules find the warehouse empty


@pytest.fixture(scope="module")
def dash(tmp_path_factory, pg_server: str, warehouse: psycopg.Connection) -> Iterator[Dashboard]:
    tmp = tmp_path_factory.mktemp("dashboard")
    dags = tmp / "dags"
    dags.mkdir()
    shutil.copy(FIXTURE_DAGS / "toy_manual.py", dags)
    for dag_id in ("toy_blocked_api", "toy_blocked_page"):  # the DAG's id is its file's name
        (tmp / f"{dag_id}.fail").touch()
        shutil.copy(FIXTURE_DAGS / "toy_blocked.py", dags / f"{dag_id}.py")
    env = {**CONNECTION_ENV, **RETAIL_WINDOW, "TOY_DAG_STATE_DIR": str(tmp)}  # the markers and logs of toy_blocked
    with (
        scratch.database(pg_server, prefix="etl_test_airflow") as name,
        LocalAirflow(
            tmp / "airflow", dags, env=env, metadata_db=scratch.sqlalchemy_uri(pg_server, name), auth_users=USERS
        ) as af,
    ):
        for dag_id in ("toy_manual", "toy_blocked_api", "toy_blocked_page"):
            af.wait_parsed(dag_id, timeout=120)
        # a Connection in the metadata database: its password is in the seeded rows too
        af.api.request(
            "POST",
            "/connections",
            json={"connection_id": "notify_email", "conn_type": "smtp", "host": "smtp.example.com",
                  "login": "etl", "password": DB_PASSWORD, "port": 587},
        )  # fmt: skip
        yield Dashboard(af, tmp, {user: af.token(user) for user in USERS})


# --- who may call what --------------------------------------------------------------------


def test_every_route_answers_401_without_a_token(dash: Dashboard) -> None:
    with dash.client() as anonymous:
        for path in GET_ROUTES:
            assert anonymous.get(path).status_code == 401, path
        for path in ("/etl/trigger/toy_manual", "/etl/recover/toy_blocked_api"):
            assert anonymous.post(path).status_code == 401, path
        # a cookie that is not a valid token is refused too
        anonymous.cookies.set("_token", "not-a-jwt")
        assert anonymous.get("/etl/health").status_code in (401, 403)


def test_a_viewer_reads_everything_but_may_not_trigger_or_recover(dash: Dashboard) -> None:
    for path in GET_ROUTES:
        assert dash.get(path, "val").status_code == 200, path
    runs_before = dash.af.runs("toy_manual")

    assert dash.post("/etl/trigger/toy_manual", "val", json={}).status_code == 403
    assert dash.post("/etl/recover/toy_blocked_api", "val").status_code == 403
    assert dash.post("/etl/recover/toy_blocked_api?dry_run=true", "val").status_code == 403

    assert dash.af.runs("toy_manual") == runs_before
    assert dash.audit("etl_trigger_dag", "toy_manual") == []  # refused before anything ran or was logged


def test_the_plugin_is_registered_with_its_page_and_app(dash: Dashboard) -> None:
    plugins = dash.af.api.request("GET", "/plugins")["plugins"]
    ours = next(p for p in plugins if p["name"] == "reliable_etl")
    import reliable_etl_plugin

    version = re.escape(reliable_etl_plugin.__version__)
    assert re.match(rf"reliable.etl.plugin=={version}: ", ours["source"]), ours["source"]  # the package's entry point

    assert [a["url_prefix"] for a in ours["fastapi_apps"]] == ["/etl"]
    view = ours["external_views"][0]
    assert (view["href"], view["url_route"], view["destination"]) == ("/etl/", "etl-reliability", "nav")
    assert "text/html" in dash.get("/etl/").headers["content-type"]


# --- what it answers -----------------------------------------------------------------------


def test_health_and_metrics_equal_what_the_ops_tables_hold(dash: Dashboard, warehouse) -> None:
    from reliable_etl_plugin.dashboard.datamodels.health import HealthResponse
    from reliable_etl_plugin.dashboard.datamodels.metrics import MetricsResponse

    health = HealthResponse.model_validate(dash.get("/etl/health").json())
    metrics = MetricsResponse.model_validate(dash.get("/etl/metrics").json())

    assert {p.pipeline: p.status for p in health.pipelines} == EXPECTED
    assert health.status == "unhealthy"
    assert health.watchdog.pipelines["retail_daily"].days_behind == 3
    assert [a.alert_key for a in health.alerts] == ["health:redis"]
    by_name = {p.pipeline: p for p in metrics.pipelines}
    for name in EXPECTED:
        window = expected_window(warehouse, name)
        assert [r.run_id for r in by_name[name].runs] == [r["run_id"] for r in window]
        averages = by_name[name].averages
        assert averages.error_rate == pytest.approx(statistics.mean(r["error_rate"] for r in window))
        assert averages.duration_s == pytest.approx(statistics.mean(r["duration_ms"] for r in window) / 1000)
        assert averages.records_rejected == pytest.approx(statistics.mean(r["records_rejected"] for r in window))


def test_checkpoints_timeline_and_errors_equal_the_tables(dash: Dashboard, warehouse) -> None:
    from reliable_etl_plugin.dashboard.datamodels.checkpoints import CheckpointsResponse
    from reliable_etl_plugin.dashboard.datamodels.errors import ErrorsResponse
    from reliable_etl_plugin.dashboard.datamodels.timeline import TimelineResponse

    checkpoints = CheckpointsResponse.model_validate(dash.get("/etl/checkpoints").json())
    months = warehouse.execute(
        "select month_key, status, rows_written from ops.processed_months order by month_key"
    ).fetchall()
    assert [(m.month_key, m.status, m.rows_written) for m in checkpoints.processed_months] == months
    jobs = warehouse.execute(
        "select service, entity, status, phase, cursor, pages, api_cost, next_retry_at from ops.sync_jobs"
        " order by service, entity"
    ).fetchall()
    assert [
        (j.service, j.entity, j.status, j.phase, j.cursor, j.pages, j.api_cost, j.next_retry_at)
        for j in checkpoints.sync_jobs
    ] == jobs
    assert {f.id for f in checkpoints.file_loads} == {r[0] for r in warehouse.execute("select id from ops.file_loads")}

    timeline = TimelineResponse.model_validate(dash.get("/etl/timeline").json())
    assert (timeline.first_day, timeline.last_day) == (dt.date(2011, 1, 24), dt.date(2011, 2, 8))
    assert timeline.counts["behind"] == 16  # nothing of retail loaded yet

    errors = ErrorsResponse.model_validate(dash.get("/etl/errors").json())
    logged = warehouse.execute("select id from ops.pipeline_logs where level = 'ERROR' order by id desc").fetchall()
    assert [e.id for e in errors.errors] == [r[0] for r in logged]
    linked = next(e for e in errors.errors if e.task_id == "load_day")
    assert linked.log_url == (
        "/dags/retail_daily/runs/scheduled__2011-01-28T02%3A00%3A00%2B00%3A00/tasks/load_day?try_number=2"
    )


def test_prometheus_exposition_parses_with_the_same_figures(dash: Dashboard, warehouse) -> None:
    response = dash.get("/etl/metrics/prometheus")

    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    levels = {"healthy": 0, "degraded": 1, "unhealthy": 2}
    assert samples[("etl_health_status", ())] == levels["unhealthy"]
    for name, level in EXPECTED.items():
        window = expected_window(warehouse, name)
        assert samples[("etl_pipeline_health_status", (("pipeline", name),))] == levels[level]
        assert samples[("etl_pipeline_failed_runs_ratio", (("pipeline", name),))] == pytest.approx(
            sum(r["status"] == "failed" for r in window) / len(window)
        )
    assert samples[("etl_sync_pages", (("entity", "acme/api"), ("service", "github")))] == 1500


def test_no_answer_contains_a_secret(dash: Dashboard, warehouse) -> None:
    held = json.dumps(
        warehouse.execute(
            "select json_agg(t) from (select message from ops.pipeline_logs union all select error from"
            " ops.pipeline_runs union all select last_error from ops.sync_jobs union all select result::text"
            " from ops.maintenance_runs union all select error from ops.processed_months) as t"
        ).fetchone()[0]
    )
    bodies = {path: dash.get(path, "ada").text for path in GET_ROUTES}
    for secret in SECRETS:
        assert secret in held  # written raw, as a careless writer could have
        for path, body in bodies.items():
            assert secret not in body, f"{path} returns a secret"
    assert "***" in bodies["/etl/errors"]


# --- acting, as the user -----------------------------------------------------------------------


def test_a_user_who_may_run_the_dag_triggers_it_and_the_audit_log_says_who(dash: Dashboard) -> None:
    response = dash.post("/etl/trigger/toy_manual", "uma", json={"conf": {}, "note": "from the dashboard test"})

    assert response.status_code == 200, response.text
    run_id = response.json()["run_id"]
    assert response.json()["triggered_by"] == "uma"
    assert run_id in [r.run_id for r in dash.af.runs("toy_manual")]
    assert [e["owner"] for e in dash.audit("etl_trigger_dag", "toy_manual")] == ["uma"]
    assert [e["owner"] for e in dash.audit("trigger_dag_run", "toy_manual")] == ["uma"]  # the REST call, as uma
    assert dash.post("/etl/trigger/no_such_dag", "ada", json={}).status_code in (403, 404)


def test_recover_unblocks_the_catch_up_and_the_days_run_in_order(dash: Dashboard) -> None:
    dag_id = "toy_blocked_api"
    runs = dash.wait_blocked(dag_id)

    listed = {d["dag_id"]: d for d in dash.get("/etl/dags", "val").json()["dags"]}
    assert listed[dag_id]["blocked"]
    assert listed[dag_id]["failed_run_id"] == runs[DAYS[1]].run_id
    assert listed[dag_id]["waiting_runs"] == [runs[DAYS[2]].run_id]
    assert not listed[dag_id]["can_run"]  # a viewer
    assert not listed["toy_manual"]["blocked"]
    assert {d["dag_id"]: d["can_run"] for d in dash.get("/etl/dags", "ada").json()["dags"]}[dag_id]

    plan = dash.post(f"/etl/recover/{dag_id}?dry_run=true", "ada").json()
    assert (plan["dry_run"], plan["failed_run"], plan["requeued"]) == (
        True,
        runs[DAYS[1]].run_id,
        [runs[DAYS[2]].run_id],
    )
    assert dash.runs_by_day(dag_id)[DAYS[2]].state == "running"  # a dry run changes nothing

    dash.marker(dag_id).unlink()
    report = dash.post(f"/etl/recover/{dag_id}", "ada")
    assert report.status_code == 200, report.text
    assert report.json()["changed"]
    assert report.json()["recovered_by"] == "ada"
    dash.wait_all_done(dag_id)

    assert dash.processed(dag_id) == DAYS  # day 1, then the failed day 2, then 3 and 4
    assert not {d["dag_id"]: d for d in dash.get("/etl/dags").json()["dags"]}[dag_id]["blocked"]
    assert [e["owner"] for e in dash.audit("etl_recover_dag", dag_id)] == ["ada", "ada"]  # the plan and the act
    assert {e["owner"] for e in dash.audit("clear_dag_run", dag_id)} == {"ada"}  # the REST calls, as ada


# --- the page in a real browser -----------------------------------------------------------------


def _load_sample(conn: psycopg.Connection, tmp: Path) -> None:
    """The shipped sample through the daily path; day 27 loses its data (a gap), day 28 fails."""
    from reliable_etl.retail.gold import rebuild_gold
    from reliable_etl.retail.landing import split_export
    from reliable_etl.retail.load import load_day

    split = split_export(SAMPLE, tmp / "landing")
    for n in range(split.files):
        day = split.first_day + dt.timedelta(days=n)
        load_day(day, run_id=f"scheduled__{day}T02:00:00+00:00", landing_dir=tmp / "landing")
    rebuild_gold(None, None, run_id="dashboard_gold")
    conn.execute("delete from silver.day_fingerprint where sales_date in ('2011-01-27', '2011-01-28')")
    conn.execute(
        "update ops.pipeline_runs set status = 'success' where pipeline_name = 'retail' and metadata->>'day' = %s",
        ("2011-01-27",),
    )
    conn.execute(
        "update ops.pipeline_runs set status = 'failed', error = %s where pipeline_name = 'retail'"
        " and metadata->>'day' = %s",
        ("retail_2011-01-28.csv: line 7: InvoiceDate '2011-13-01' is not a date", "2011-01-28"),
    )


READY = "window.etlDashboard && window.etlDashboard.ready"


def _open(browser, dash: Dashboard, user: str):
    page = browser.page()
    page.set_cookie("_token", dash.tokens[user], dash.af.base_url)
    page.navigate(f"{dash.af.base_url}/etl/")
    page.wait_for(READY, timeout=60)
    state = page.evaluate("window.etlDashboard")
    assert state["failed"] == [], state
    assert page.console_errors == []
    return page


def test_the_page_shows_the_grid_timeline_chart_and_errors_and_recovers(dash: Dashboard, warehouse, tmp_path) -> None:
    """In headless Chromium, as a viewer and as an admin: what each sees, the Recover button, the UI's iframe."""
    from reliable_etl_dev.browser import Chromium, available

    if why := available():
        pytest.skip(why)
    _load_sample(warehouse, tmp_path)
    dag_id = "toy_blocked_page"
    dash.wait_blocked(dag_id)
    health = dash.get("/etl/health").json()
    january = warehouse.execute(
        "select rows_written, status from ops.processed_months where pipeline_name = 'retail' and month_key = '2011-01'"
    ).fetchone()

    with Chromium() as browser:
        # a viewer sees the blocked DAG without the action
        page = _open(browser, dash, "val")
        assert page.evaluate(f"!!document.querySelector(\"#blocked-list li[data-dag='{dag_id}']\")")
        assert page.evaluate("document.querySelectorAll('button.recover').length") == 0
        assert "you may not run this DAG" in page.evaluate("document.getElementById('blocked-list').textContent")
        shot = page.screenshot(tmp_path / "dashboard-viewer.png")
        print(f"\nscreenshot (viewer): {shot}")

    with Chromium() as browser:
        page = _open(browser, dash, "ada")

        assert page.evaluate("document.getElementById('overall').textContent") == health["status"]
        assert page.evaluate("document.getElementById('user').textContent") == "ada"
        # the grid: January published, its rows written as the ledger says
        cell = page.evaluate(
            "(() => { const c = document.querySelector(\"#months-grid tr[data-pipeline='retail']"
            " td[data-month='2011-01']\"); return [c.dataset.status, c.dataset.rows, c.textContent]; })()"
        )
        assert cell == [january[1], str(january[0]), f"{january[0]:,}"]
        # the checks: one row per check of each target, its latest verdict as /etl/checks says
        shown = page.evaluate(
            "[...document.querySelectorAll('#checks-body tr[data-check]')]"
            ".map(r => [r.dataset.check, r.dataset.verdict])"
        )
        answer = dash.get("/etl/checks").json()["checks"]
        verdict = {(True, True): "passed", (False, True): "warning", (False, False): "failed"}
        assert shown == [
            [
                f"{c['pipeline']}|{c['target']}|{c['check_name']}",
                verdict[c["latest"]["passed"], c["latest"]["published"]],
            ]
            for c in answer
        ]
        assert len(shown) >= 4  # the sample's months audited by retail's four checks
        # the timeline: the gap and the failure marked, the days not yet done behind
        segments = page.evaluate(
            "[...document.querySelectorAll('#timeline-svg rect.seg')].map(r => [r.dataset.status, r.dataset.first,"
            " r.dataset.last])"
        )
        assert segments == [
            ["processed", "2011-01-24", "2011-01-26"],
            ["gap", "2011-01-27", "2011-01-27"],
            ["failed", "2011-01-28", "2011-01-28"],
            ["processed", "2011-01-29", "2011-02-06"],
            ["behind", "2011-02-07", "2011-02-08"],
        ]
        assert "is not a date" in page.evaluate(
            "document.querySelector(\"#timeline-list li[data-status='failed']\").textContent"
        )
        # the chart: a line per pipeline and figure, the four thresholds
        history = dash.get("/etl/health/history").json()["pipelines"]
        assert page.evaluate("document.querySelectorAll('#history-svg path.series').length") == 2 * len(history)
        bounds = page.evaluate(
            "[...document.querySelectorAll('#history-svg line.threshold')].map(l => l.dataset.bound)"
        )
        assert bounds == ["0.2", "0.5", "0.1", "0.2"]
        # the errors, with their task-log links
        errors = page.evaluate(
            "[...document.querySelectorAll('#errors-list li.error')].map(li => [li.dataset.id,"
            " li.querySelector('a.log-link') && li.querySelector('a.log-link').getAttribute('href')])"
        )
        expected = [[str(e["id"]), e["log_url"]] for e in dash.get("/etl/errors").json()["errors"]]
        assert errors == expected
        assert any(href and "/tasks/load_day?try_number=2" in href for _, href in errors)
        assert DB_PASSWORD not in page.evaluate("document.body.innerText")
        # the recover action, for a blocked DAG the admin may run
        assert page.evaluate(f"!!document.querySelector(\"button.recover[data-dag='{dag_id}']\")")
        shot = page.screenshot(tmp_path / "dashboard-admin.png")
        print(f"screenshot (admin): {shot}")

        dash.marker(dag_id).unlink()
        page.evaluate(f"document.querySelector(\"button.recover[data-dag='{dag_id}']\").click()")
        page.wait_for("document.getElementById('recover-result').dataset.result", timeout=60)
        assert page.evaluate("document.getElementById('recover-result').dataset.result") == "recovered"
        dash.wait_all_done(dag_id)
        assert dash.processed(dag_id) == DAYS

        # inside the Airflow UI: its navigation opens the page in an iframe, and a task-log link moves the UI
        page.navigate(f"{dash.af.base_url}/plugin/etl-reliability")
        frame = "document.querySelector('iframe')"
        page.wait_for(
            f"!!{frame} && {frame}.contentWindow.etlDashboard && {frame}.contentWindow.etlDashboard.ready", 60
        )
        assert page.evaluate(f"{frame}.getAttribute('src')") == "/etl/"
        page.evaluate(f"{frame}.contentDocument.querySelector('#errors-list a.log-link').click()")
        assert page.wait_for("location.pathname.startsWith('/dags/') && location.pathname + location.search") == (
            next(e["log_url"] for e in dash.get("/etl/errors").json()["errors"] if e["log_url"])
        )
