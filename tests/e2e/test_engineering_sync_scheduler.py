"""engineering_sync through a real Airflow scheduler and triggerer, against the fake Jira and GitHub.

A repository hits a rate limit that asks for longer than a worker may sleep: its task
saves the job PENDING with next_retry_at and defers (no worker held), the triggerer wakes
it, and it resumes from its checkpoint. Every table ends equal to the fake server's data.

Configuration that is not there: with nothing to sync the run succeeds and its task logs say
which settings to fill; a repository without its Connection fails its task on the first try.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reliable_etl_dev.airflow_local import LocalAirflow
from reliable_etl_dev.fakes import Fault
from reliable_etl_dev.testing.sync import (
    SYNC_TEST_SETTINGS,
    fake_connections,
    github_rows,
    github_truth,
    jira_rows,
    jira_truth,
    transitions,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DAG = "engineering_sync"
REPOS = {"acme/api": 180, "acme/web": 60}
PROJECTS = {"ENG": 150, "OPS": 40}


def test_rate_limited_task_defers_then_resumes_from_its_checkpoint(tmp_path, sync_env, conn, airflow_metadata_db):
    fake = sync_env
    for repo, count in REPOS.items():
        fake.github.add_repo(repo, count=count, seed=5)
    for project, count in PROJECTS.items():
        fake.jira.add_project(project, count=count, seed=5)
    fake.faults.add(
        Fault(service="github", kind="rate_limit", entity="acme/api", at_request=3, params={"reset_after": 12})
    )

    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        **fake_connections(fake.url),
        **SYNC_TEST_SETTINGS,
        "ETL_GITHUB_REPOS": ",".join(REPOS),
        "ETL_JIRA_PROJECTS": ",".join(PROJECTS),
        "ETL_HOME": str(tmp_path / "etl-home"),
    }
    seen: set[tuple[str, str | None]] = set()
    with LocalAirflow(tmp_path / "airflow", ROOT / "dags", env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed(DAG, timeout=120)
        af.unpause(DAG)
        triggered = af.api.trigger(DAG, {"repos": list(REPOS), "projects": list(PROJECTS), "full_refresh": False})

        def all_runs_done() -> bool:
            runs = af.runs(DAG)
            for run in runs:
                seen.update(af.task_states(DAG, run.run_id).items())
            if any(r.state == "failed" for r in runs):
                raise AssertionError(f"a run failed: {runs}; task states seen: {sorted(seen)}")
            return bool(runs) and all(r.state == "success" for r in runs)

        af.wait_until(all_runs_done, timeout=300, poll=0.5, what="every engineering_sync run succeeded")
        tries = af.api.request("GET", f"/dags/{DAG}/dagRuns/{triggered['dag_run_id']}/taskInstances/sync_github/0")

    assert ("sync_github[0]", "deferred") in seen  # acme/api waited in the triggerer, not in a worker
    assert tries["try_number"] == 1  # resumed from the deferral, not retried
    assert ("RUNNING", "PENDING") in transitions(conn, "github", "acme/api")
    pages = fake.page_requests("github", "acme/api")
    limited = next(i for i, r in enumerate(pages) if r.fault == "rate_limit")
    assert pages[limited].key is not None  # the third page, after a cursor
    assert pages[limited + 1].key == pages[limited].key  # resumed at that very page
    for repo in REPOS:
        assert github_rows(conn, repo) == github_truth(fake, repo)
    for project in PROJECTS:
        assert jira_rows(conn, project) == jira_truth(fake, project)


def test_missing_configuration_is_said_and_fails_at_once(tmp_path, conn, airflow_metadata_db):
    env = {
        "AIRFLOW_CONN_WAREHOUSE": os.environ["AIRFLOW_CONN_WAREHOUSE"],
        **SYNC_TEST_SETTINGS,
        "ETL_GITHUB_REPOS": "",
        "ETL_JIRA_PROJECTS": "",
        "ETL_GITHUB_CONN_ID": "github_missing",  # a Connection nobody defined
        "ETL_HOME": str(tmp_path / "etl-home"),
    }
    with LocalAirflow(tmp_path / "airflow", ROOT / "dags", env=env, metadata_db=airflow_metadata_db) as af:
        af.wait_parsed(DAG, timeout=120)
        af.unpause(DAG)
        seen: set[tuple[str, str | None]] = set()

        def finished(run_id: str) -> str | None:
            seen.update(af.task_states(DAG, run_id).items())
            state = next(r.state for r in af.runs(DAG) if r.run_id == run_id)
            return state if state in ("success", "failed") else None

        nothing = af.api.trigger(DAG, {"repos": [], "projects": []})["dag_run_id"]
        assert af.wait_until(lambda: finished(nothing), timeout=180, poll=0.5, what="the empty run") == "success"
        empty_states = af.task_states(DAG, nothing)

        unconnected = af.api.trigger(DAG, {"repos": ["acme/api"], "projects": []})["dag_run_id"]
        assert af.wait_until(lambda: finished(unconnected), timeout=180, poll=0.5, what="the run") == "failed"
        github = af.api.request("GET", f"/dags/{DAG}/dagRuns/{unconnected}/taskInstances/sync_github/0")

    assert empty_states == {
        "ensure_schema": "success",
        "repos": "skipped",
        "projects": "skipped",
        "sync_github": "skipped",
        "sync_jira": "skipped",
    }
    repos_log, projects_log = (task_log(af, nothing, task) for task in ("repos", "projects"))
    assert warnings(repos_log) == [
        "no GitHub repositories to sync: set ETL_GITHUB_REPOS (comma-separated) or trigger with the Param `repos`"
    ]
    assert warnings(projects_log) == [
        "no Jira projects to sync: set ETL_JIRA_PROJECTS (comma-separated) or trigger with the Param `projects`"
    ]
    assert "Skipping task." in repos_log
    assert (github["state"], github["try_number"]) == ("failed", 1)
    assert ("sync_github[0]", "up_for_retry") not in seen
    failure = task_log(af, unconnected, "sync_github")
    assert "GitHub Connection 'github_missing' is not defined" in failure
    assert "AIRFLOW_CONN_GITHUB_MISSING" in failure


def warnings(log: str) -> list[str]:
    """The WARNING events of a task log (JSON lines)."""
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [e["event"] for e in events if e.get("level") == "warning"]


def task_log(af: LocalAirflow, run_id: str, task_id: str) -> str:
    """The first try's log of a task (mapped: its first instance), as the worker wrote it."""
    for path in af.log_dir.rglob("attempt=1.log"):
        if f"run_id={run_id}" in path.parts and f"task_id={task_id}" in path.parts:
            return path.read_text(errors="replace")
    raise AssertionError(f"no log of {task_id} in {run_id} under {af.log_dir}")
