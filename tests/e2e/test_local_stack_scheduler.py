"""`make up` as a new user meets it, through a real Airflow on the embedded warehouse.

scripts/up.py runs in a subprocess on a fresh ETL_HOME, exactly as `make up` does: the sample
is split into the landing directory, retail_daily catches up the sample's 14 days and ends
green (no run stuck "running"). In another "terminal" the README's commands talk to the same
instance: `etl airflow ...`, `AIRFLOW_HOME=... airflow backfill create`, `etl backfill` (which
covers the last day it names). Then the gold Assets: a dry run of retail_gold_rebuild and a
rebuild with nothing to do emit no event; a rebuild that writes gold emits one per gold table,
with the months, rows written and fingerprints in ``extra``. Every DAG has a description and
every Param a title.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reliable_etl_dev.airflow_local import AIRFLOW_BIN, free_port
from reliable_etl_plugin.recovery import AirflowApi

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ETL = [sys.executable, "-m", "reliable_etl.cli"]
GOLD_ASSETS = {"gold.fact_sales_monthly", "gold.fact_product_performance", "gold.fact_country_sales"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """`make up` on a fresh ETL_HOME with the embedded warehouse; yields (env, api, up process)."""
    home = tmp_path_factory.mktemp("etl-home")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not (k.startswith(("AIRFLOW_", "ETL_RETAIL_")) or k == "ETL_FAILPOINTS")
    }
    env.update(ETL_HOME=str(home), ETL_UI_PORT=str(port), ETL_AIRFLOW_API_URL=f"http://127.0.0.1:{port}")
    log = (home / "up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "up.py")], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    api = AirflowApi(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 240
        while True:
            assert up.poll() is None, (home / "up.log").read_text()
            if "retail_daily unpaused" in (home / "up.log").read_text():
                break
            assert time.monotonic() < deadline, (home / "up.log").read_text()
            time.sleep(1)
        yield env, api, up, home
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=90)
            except subprocess.TimeoutExpired:
                up.kill()
        log.close()
        subprocess.run([*ETL, "warehouse", "stop"], env=env, check=False, capture_output=True)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(1)


def test_make_up_splits_the_sample_and_the_catch_up_ends_green(stack) -> None:
    _, api, up, home = stack
    landing = home / "landing" / "retail"
    assert len(list(landing.glob("retail_*.csv"))) == 14

    def all_green():
        runs = api.dag_runs("retail_daily")
        assert not [r for r in runs if r["state"] == "failed"], runs
        return len(runs) == 14 and all(r["state"] == "success" for r in runs) and runs

    runs = wait_for(all_green, 420, "14 green runs")
    assert (runs[0]["logical_date"][:10], runs[-1]["logical_date"][:10]) == ("2011-01-24", "2011-02-06")
    assert up.poll() is None


def test_airflow_commands_in_another_terminal_talk_to_the_same_instance(stack) -> None:
    env, _, _, home = stack
    passthrough = subprocess.run(
        [sys.executable, "-m", "reliable_etl_dev.cli", "airflow", "dags", "list", "-o", "json"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert passthrough.returncode == 0, passthrough.stderr
    listed = json.loads(passthrough.stdout.strip().splitlines()[-1])  # after Airflow's own warnings
    assert {"retail_daily", "files_nightly"} <= {d["dag_id"] for d in listed}

    # the plain airflow command with AIRFLOW_HOME, as the README shows it (no `db migrate` asked for)
    plain_env = {**{k: v for k, v in env.items() if not k.startswith("ETL_")}, "AIRFLOW_HOME": str(home / "airflow")}
    plain = subprocess.run(
        [str(AIRFLOW_BIN), "backfill", "create", "--dag-id", "retail_daily", "--from-date", "2011-01-28",
         "--to-date", "2011-01-31T23:59:59+00:00", "--max-active-runs", "1", "--reprocess-behavior", "completed",
         "--dry-run"],
        env=plain_env, check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "2011-01-31T02:00:00" in plain.stdout.replace(" ", "T")


def test_etl_backfill_covers_the_days_it_names_and_says_a_paused_dag_waits(stack) -> None:
    env, api, _, _ = stack
    dry = subprocess.run(
        [*ETL, "backfill", "files_nightly", "--from", "2026-01-02", "--to", "2026-01-04", "--dry-run"],
        env=env, check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "would create: 3 runs for 2026-01-02 .. 2026-01-04" in dry.stdout
    assert "2026-01-04T02:00:00" in dry.stdout  # the last day named is covered
    assert "files_nightly is paused" in dry.stdout
    assert "waits" in dry.stdout

    wait_for(lambda: all(r["state"] == "success" for r in api.dag_runs("retail_daily")), 420, "catch-up done")
    rerun = subprocess.run(
        [*ETL, "backfill", "retail_daily", "--from", "2011-01-30", "--to", "2011-01-31",
         "--reprocess-behavior", "completed"],
        env=env, check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert "created: 2 runs for 2011-01-30 .. 2011-01-31" in rerun.stdout
    assert "paused" not in rerun.stdout


def asset_events(api: AirflowApi, dag_id: str) -> list[dict]:
    events = api.request("GET", "/assets/events", params={"source_dag_id": dag_id, "limit": 100})["asset_events"]
    return [e for e in events if e.get("source_dag_id") == dag_id]


def run_rebuild(api: AirflowApi, conf: dict) -> tuple[str, dict[str, str]]:
    run_id = api.trigger("retail_gold_rebuild", conf)["dag_run_id"]

    def finished():
        state = api.request("GET", f"/dags/retail_gold_rebuild/dagRuns/{run_id}")["state"]
        return state if state in {"success", "failed"} else None

    state = wait_for(finished, 180, f"rebuild {conf}")
    tasks = {ti["task_id"]: ti["state"] for ti in api.task_instances("retail_gold_rebuild", run_id)}  # one month
    return state, tasks


def test_gold_assets_get_an_event_only_when_gold_changed_with_what_changed(stack) -> None:
    _, api, _, _ = stack
    wait_for(lambda: all(r["state"] == "success" for r in api.dag_runs("retail_daily")), 420, "catch-up done")
    daily = asset_events(api, "retail_daily")  # January closes on the 31st: one event per gold table
    assert sorted(e["name"] for e in daily) == sorted(GOLD_ASSETS)
    assert {e["extra"]["month"] for e in daily} == {"2011-01"}
    api.set_paused("retail_gold_rebuild", False)

    state, tasks = run_rebuild(api, {"dry_run": True})
    assert (state, tasks["rebuild"]) == ("success", "skipped")
    assert asset_events(api, "retail_gold_rebuild") == []

    state, tasks = run_rebuild(api, {})  # February is open and never published: computed now
    assert (state, tasks["rebuild"]) == ("success", "success")
    events = asset_events(api, "retail_gold_rebuild")
    assert len(events) == 3
    for event in events:
        extra = event["extra"]
        assert (extra["month"], extra["unit"]) == ("2011-02", "2011-02")
        assert extra["rows_written"] > 0
        assert extra["input_rows"] > 0
        assert len(extra["fingerprint"]) == 32  # md5 of the month's silver input

    state, tasks = run_rebuild(api, {})  # nothing changed since
    assert (state, tasks["rebuild"]) == ("success", "skipped")
    assert len(asset_events(api, "retail_gold_rebuild")) == 3


def test_every_dag_has_a_description_and_every_param_a_title(stack) -> None:
    _, api, _, _ = stack
    dags = api.request("GET", "/dags", params={"limit": 100})["dags"]
    assert {d["dag_id"] for d in dags} >= {"retail_daily", "retail_gold_rebuild", "engineering_sync", "files_nightly"}
    for dag in dags:
        assert dag["description"], dag["dag_id"]
        details = api.request("GET", f"/dags/{dag['dag_id']}/details")
        for name, param in (details.get("params") or {}).items():
            assert (param.get("schema") or {}).get("title"), (dag["dag_id"], name)


def test_the_ui_answers(stack) -> None:
    _, api, _, _ = stack
    assert httpx.get(f"{api.base_url}/api/v2/monitor/health", timeout=10).status_code == 200
