"""The bundle served from git, as a platform team deploys it: a versioned GitDagBundle (AIP-66).

A bare repository of the project (file://) is the bundle's remote, configured through
``[dag_processor] dag_bundle_config_list``. A real api-server, scheduler, dag-processor and
triggerer run from a fresh virtualenv holding the runtime requirements and the plugin's wheel
only: the bundle's package is installed nowhere and nothing is on PYTHONPATH, so every task
imports ``reliable_etl`` (and reads its SQL) from the bundle version of its run.

One catch-up of retail_daily over the sample's 14 days, with commits pushed while it runs:

- A: the project as it is. Day 3's file is held back, so its run waits in its sensor; then
- B: DCGS party items are no longer products (``upsert_silver_day.sql``) is pushed: day 3 was
  created on A and finishes on A, every later day runs on B (``dag_run.bundle_version``);
- C1 breaks the silver SQL while day 4 waits: day 5 fails on C1, day 6 waits behind it; D1 fixes
  it and ``etl recover`` (the runtime's own command) reruns days 5 and 6 on D1;
- C2/D2 the same, repaired by the watchdog (``etl_health``); C3/D3, by the dashboard's Recover.

Meanwhile the dashboard's routes answer with their JSON, and a late run of a toy DAG of the
bundle sends its Deadline Alert from the triggerer, whose callback is the installed plugin's.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psycopg
import pytest

from reliable_etl.retail.landing import landing_path, split_export
from reliable_etl_dev import ROOT, SAMPLE_CSV, scratch
from reliable_etl_dev.airflow_local import LocalAirflow, free_port
from reliable_etl_dev.packaging import build_wheels, runtime_venv
from reliable_etl_dev.testing import FIXTURE_DAGS

DAG = "retail_daily"
BUNDLE = "reliable_etl"
FIRST_DAY = dt.date(2011, 1, 24)
DAYS = [FIRST_DAY + dt.timedelta(days=n) for n in range(14)]  # the sample's days, 2011-01-24 .. 2011-02-06
SILVER_SQL = "dags/reliable_etl/sql/retail/upsert_silver_day.sql"
DCGS_IS_A_PRODUCT = "(stock_code ~ '^\\d{5}' or stock_code ~ '^(DCGS|gift_)') as is_product"
DCGS_IS_NOT = "(stock_code ~ '^\\d{5}' or stock_code ~ '^gift_') as is_product"
GIT = ["git", "-c", "user.name=Release Bot", "-c", "user.email=release@example.com"]


class BundleRepo:
    """The team's repository: a working clone whose commits are pushed to a bare remote."""

    def __init__(self, root: Path) -> None:
        self.work, self.remote = root / "work", root / "remote.git"
        subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(self.remote)], check=True)
        subprocess.run(["git", "init", "--quiet", "-b", "main", str(self.work)], check=True)
        shutil.copytree(ROOT / "dags", self.work / "dags", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copy(FIXTURE_DAGS / "late_probe.py", self.work / "dags")
        self._git("remote", "add", "origin", str(self.remote))
        self.commits: list[str] = []
        self.commit("A: the project as it is")

    def _git(self, *args: str) -> str:
        return subprocess.run([*GIT, *args], cwd=self.work, check=True, capture_output=True, text=True).stdout.strip()

    def commit(self, message: str, edit: Callable[[Path], None] | None = None) -> str:
        if edit:
            edit(self.work)
        self._git("add", "--all")
        self._git("commit", "--quiet", "--allow-empty", "-m", message)
        self._git("push", "--quiet", "origin", "main")
        self.commits.append(self._git("rev-parse", "HEAD"))
        return self.commits[-1]

    def edit_silver(self, old: str, new: str) -> Callable[[Path], None]:
        def edit(work: Path) -> None:
            path = work / SILVER_SQL
            text = path.read_text()
            assert old in text
            path.write_text(text.replace(old, new))

        return edit


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Airflow image's environment: the runtime requirements and the plugin's wheel, no bundle."""
    tmp = tmp_path_factory.mktemp("runtime")
    wheels = build_wheels(tmp / "dist")
    return runtime_venv(tmp / "venv", wheels["reliable-etl-plugin"])


@pytest.fixture
def slack() -> Iterator[tuple[str, list[dict]]]:
    """A receiver answering as Slack's incoming webhooks do; the bodies it got."""
    posts: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", posts
    server.shutdown()
    server.server_close()


class Catchup:
    """retail_daily's runs, by day, through the REST API."""

    def __init__(self, af: LocalAirflow, landing: Path, held: Path) -> None:
        self.af, self.landing, self.held = af, landing, held

    def runs(self) -> dict[dt.date, dict]:
        return {dt.date.fromisoformat(r["logical_date"][:10]): r for r in self.af.api.dag_runs(DAG)}

    def wait_run(self, day: dt.date, states: set[str], timeout: float = 300) -> dict:
        def reached() -> dict | None:
            run = self.runs().get(day)
            return run if run and run["state"] in states else None

        return self.af.wait_until(reached, timeout, poll=1, what=f"run of {day} {'/'.join(sorted(states))}")

    def wait_waiting_for_file(self, day: dt.date) -> None:
        """The day's run exists and its sensor has looked for the (held back) file at least once."""

        def waiting() -> bool:
            run = self.runs().get(day)
            if not run:
                return False
            return self.af.task_states(DAG, run["dag_run_id"]).get("wait_for_landing_file") == "up_for_reschedule"

        self.af.wait_until(waiting, 300, poll=1, what=f"run of {day} waiting for its file")

    def wait_version(self, sha: str) -> None:
        """The dag-processor has parsed retail_daily at commit `sha`: runs created from now on use it."""
        self.af.wait_until(
            lambda: (self.af.api.dag(DAG) or {}).get("bundle_version") == sha,
            180,
            poll=1,
            what=f"{DAG} parsed at {sha[:8]}",
        )

    def release(self, day: dt.date) -> None:
        name = landing_path(self.landing, day).name
        shutil.move(self.held / name, self.landing / name)

    def fail_and_fix(self, repo: BundleRepo, held: dt.date, n: int) -> tuple[dt.date, dt.date, str]:
        """Break silver while `held` waits; the next day fails, the one after waits; push the fix.

        Returns (the failed day, the blocked day, the fixing commit).
        """
        self.wait_waiting_for_file(held)
        broken = repo.commit(f"C{n}: a broken silver query", repo.edit_silver("with accepted as", "wiht accepted as"))
        self.wait_version(broken)
        self.release(held)
        failed, blocked = held + dt.timedelta(days=1), held + dt.timedelta(days=2)
        assert self.wait_run(held, {"success"})["bundle_version"] != broken  # started before the commit
        assert self.wait_run(failed, {"failed"})["bundle_version"] == broken
        assert self.wait_run(blocked, {"running"})["bundle_version"] == broken  # waits on the failed day
        fixed = repo.commit(f"D{n}: silver fixed", repo.edit_silver("wiht accepted as", "with accepted as"))
        self.wait_version(fixed)
        return failed, blocked, fixed

    def assert_recovered(self, failed: dt.date, blocked: dt.date, fixed: str) -> None:
        for day in (failed, blocked):
            assert self.wait_run(day, {"success"})["bundle_version"] == fixed, day


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_a_git_bundle_runs_each_day_on_its_version_and_recovers_on_the_fix(
    runtime: Path, tmp_path: Path, pg_server: str, airflow_metadata_db: str, slack
) -> None:
    repo = BundleRepo(tmp_path / "repo")
    landing, held = tmp_path / "landing", tmp_path / "held"
    split_export(SAMPLE_CSV, landing)
    held.mkdir()
    for day in (DAYS[2], DAYS[3], DAYS[6], DAYS[9]):  # the days whose runs wait while a commit lands
        shutil.move(landing_path(landing, day), held)

    port = free_port()
    slack_url, posts = slack
    with scratch.database(pg_server, prefix="etl_test_bundle") as warehouse:
        env = {
            "AIRFLOW_CONN_ETL_GIT": json.dumps({"conn_type": "git", "host": f"file://{repo.remote}"}),
            "AIRFLOW_CONN_WAREHOUSE": scratch.airflow_conn_uri(pg_server, warehouse),
            "AIRFLOW_CONN_AIRFLOW_API": json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{port}"}),
            "AIRFLOW_CONN_NOTIFY_SLACK": json.dumps(
                {"conn_type": "slackwebhook", "host": f"{slack_url}/services", "password": "T0/B0/late"}
            ),
            "ETL_HOME": str(tmp_path / "etl-home"),
            "ETL_RETAIL_LANDING_DIR": str(landing),
            "ETL_RETAIL_START_DATE": DAYS[0].isoformat(),
            "ETL_RETAIL_END_DATE": DAYS[-1].isoformat(),
            "ETL_RETAIL_FILE_WAIT_HOURS": "1000000",  # 2011's files: wait for the held ones, never fail
            "ETL_RETAIL_POKE_SECONDS": "2",
            "ETL_TASK_RETRIES": "0",
            "ETL_WATCHDOG_PIPELINES": "retail",
        }
        bundles = [
            {
                "name": BUNDLE,
                "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
                "kwargs": {"tracking_ref": "main", "subdir": "dags", "git_conn_id": "etl_git", "refresh_interval": 2},
            }
        ]
        af = LocalAirflow(
            tmp_path / "airflow",
            None,
            env=env,
            port=port,
            metadata_db=airflow_metadata_db,
            dag_bundles=bundles,
            airflow_bin=runtime / "airflow",
        )
        assert "PYTHONPATH" not in af.environ()  # nothing pins the bundle's package: tasks import the run's version
        with af:
            af.wait_parsed(DAG, timeout=180)
            dag = af.api.dag(DAG)
            assert (dag["bundle_name"], dag["bundle_version"]) == (BUNDLE, repo.commits[0])
            catchup = Catchup(af, landing, held)

            # the Deadline Alert of a late run, from the triggerer (the plugin's callback; no bundle there)
            af.wait_parsed("late_probe", timeout=120)
            af.unpause("late_probe")
            now = dt.datetime.now(dt.UTC).isoformat()
            late = af.api.request("POST", "/dags/late_probe/dagRuns", json={"logical_date": now})["dag_run_id"]

            af.unpause(DAG)
            # a commit pushed mid catch-up: the waiting day keeps A, the later days run B
            catchup.wait_waiting_for_file(DAYS[2])
            b = repo.commit("B: DCGS party items are not products", repo.edit_silver(DCGS_IS_A_PRODUCT, DCGS_IS_NOT))
            catchup.wait_version(b)
            catchup.release(DAYS[2])
            assert catchup.wait_run(DAYS[2], {"success"})["bundle_version"] == repo.commits[0]

            # 1. fixed by a commit, recovered with `etl recover` (the runtime's command, finding the bundle itself)
            failed, blocked, fixed = catchup.fail_and_fix(repo, DAYS[3], 1)
            recover = subprocess.run(
                [str(runtime / "etl"), "recover", DAG],
                env=af.environ(),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert recover.returncode == 0, recover.stdout + recover.stderr
            assert f"runs on bundle version: {fixed} (the latest; was " in recover.stdout
            catchup.assert_recovered(failed, blocked, fixed)

            # 2. repaired by the watchdog (etl_health, a task of the bundle's latest version)
            failed, blocked, fixed = catchup.fail_and_fix(repo, DAYS[6], 2)
            af.wait_parsed("etl_health", timeout=120)
            af.unpause("etl_health")
            watchdog = af.api.request("POST", "/dags/etl_health/dagRuns", json={"logical_date": None})["dag_run_id"]
            af.wait_until(
                lambda: (
                    next(r for r in af.api.dag_runs("etl_health") if r["dag_run_id"] == watchdog)["state"]
                    in {"success", "failed"}
                ),
                300,
                what="the watchdog's run",
            )
            catchup.assert_recovered(failed, blocked, fixed)

            # 3. recovered from the dashboard (the installed plugin's app in the api-server)
            failed, blocked, fixed = catchup.fail_and_fix(repo, DAYS[9], 3)
            answer = httpx.post(f"{af.base_url}/etl/recover/{DAG}", timeout=120)
            assert answer.status_code == 200, answer.text
            assert (answer.json()["bundle_version"], answer.json()["latest_version"]) == (fixed, True)
            catchup.assert_recovered(failed, blocked, fixed)

            final = {day: catchup.wait_run(day, {"success"}, timeout=600) for day in DAYS}
            for route in ("/etl/health", "/etl/timeline", "/etl/dags", "/etl/metrics"):
                resp = httpx.get(f"{af.base_url}{route}", timeout=60)
                assert (resp.status_code, resp.headers["content-type"]) == (200, "application/json"), route
            timeline = httpx.get(f"{af.base_url}/etl/timeline", timeout=60).json()
            af.wait_until(
                lambda: any(p["text"].startswith(":alarm_clock:") for p in posts), 120, what="the late run's message"
            )
            checkouts = {p.name for p in (tmp_path / "airflow" / "bundles" / BUNDLE / "versions").iterdir()}

        with psycopg.connect(scratch.libpq_uri(pg_server, warehouse)) as conn:
            products = dict(
                conn.execute(
                    "select sales_date, bool_or(is_product) from silver.fact_sales_daily"
                    " where stock_code like 'DCGS%%' group by 1"
                ).fetchall()
            )

    versions = [final[day]["bundle_version"] for day in DAYS]
    a, b, d1, d2, d3 = repo.commits[0], repo.commits[1], repo.commits[3], repo.commits[5], repo.commits[7]
    assert versions == [a, a, a, b, d1, d1, d1, d2, d2, d2, d3, d3, d3, d3]
    # each day's data shows the code of its run: DCGS a product on A only
    assert products == {day: final[day]["bundle_version"] == a for day in DAYS if day in products}
    assert len(products) == 12  # every day with sales (the 29th and 5th have none)
    assert timeline["counts"]["processed"] == 14
    assert set(versions) <= checkouts  # a checkout per version a task ran on
    deadlines = [
        post["text"].split(" is not finished")[0] for post in posts if post["text"].startswith(":alarm_clock:")
    ]
    assert deadlines == [f":alarm_clock: late_probe: run {late}"]  # retail's catch-up runs: logged, not sent
    assert any("etl_health: ERROR: retail_daily unhealthy" in post["text"] for post in posts)  # the watchdog's own
