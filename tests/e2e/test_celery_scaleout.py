"""Scale-out on Celery workers, verified without Docker: two workers on this machine.

A real Airflow with the CeleryExecutor (Redis broker, PostgreSQL metadata) and two workers
(``airflow celery worker -H w1`` / ``-H w2``) runs the retail catch-up, the syncs against the
fake APIs and the file load; once the GitHub pool was full, the worker running a sync task in
the middle of its pages is SIGKILLed with its task processes. The scenario is `make
scale-demo`'s (scripts/scale_demo.py), run once for the module; each test checks one claim.
"""

from __future__ import annotations

import psycopg
import pytest

from reliable_etl_dev.airflow_local import celery_broker
from reliable_etl_dev.testing.sync import github_rows, github_truth, jira_rows, jira_truth
from scripts.scale_demo import COMPARED, DAGS, HEARTBEAT_TIMEOUT_S, PROJECTS, REPOS, WORKERS, run_scenario

pytestmark = pytest.mark.slow


def _rows_and_truth(uri: str, fake) -> dict[str, tuple[list, list]]:
    """Per entity, our live rows and the fake's data, mapped independently of the sync."""
    with psycopg.connect(uri, autocommit=True) as conn:
        found = {repo: (github_rows(conn, repo), github_truth(fake, repo)) for repo in REPOS}
        found.update({key: (jira_rows(conn, key), jira_truth(fake, key)) for key in PROJECTS})
    return found


@pytest.fixture(scope="module")
def report(pg_server, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scale-out")
    with celery_broker(workdir) as url:
        return run_scenario(workdir, pg_server, url, inspect=_rows_and_truth)


def test_every_run_succeeds_with_tasks_on_both_workers(report):
    assert report.run_states == {
        "retail_daily": ["success"] * 4,
        "engineering_sync": ["success"],
        "files_nightly": ["success"],
    }
    assert {t.state for t in report.task_runs} <= {"success", "skipped"}
    assert report.hosts() == set(WORKERS)
    for dag_id in ("retail_daily", "engineering_sync"):  # a dozen tasks each, alternating workers
        assert report.hosts(dag_id) == set(WORKERS), dag_id
    assert {t.dag_id for t in report.task_runs} == set(DAGS)


def test_the_pools_bound_the_api_calls_across_the_workers(report):
    # 8 worker slots, 8 repositories: only the pool keeps GitHub at 4 requests at once
    assert report.pool_slots == {"github": 4, "jira": 2}
    assert report.peaks == report.pool_slots


def test_a_killed_workers_task_is_retried_on_the_other_and_resumes(report):
    killed = report.killed
    other = next(w for w in WORKERS if w != killed.worker)
    assert len(killed.processes) > 2  # the worker, its pool and the task processes
    first, *_, last = killed.tries
    assert (first["try_number"], first["hostname"], first["state"]) == (1, killed.worker, "failed")
    assert (last["hostname"], last["state"]) == (other, "success")
    assert len(killed.tries) == 2  # one retry after the heartbeat timeout, on the other worker
    # the retry resumed from the checkpoint: the page in flight at the kill is the one fetched twice
    assert report.refetched_pages <= 1
    assert report.timings["runs_s"] > HEARTBEAT_TIMEOUT_S


def test_every_table_equals_a_clean_run(report):
    assert report.mismatched_tables() == []
    assert all(report.scheduled[table][0] > 0 for table in COMPARED)
    for entity, (ours, truth) in report.inspected.items():
        assert ours == truth, entity


def test_etl_status_shows_the_running_stack(report):
    status = {s["name"]: s for s in report.status["services"]}
    assert {name: s["status"] for name, s in status.items()} == {
        "api-server": "up",
        "metadatabase": "up",
        "scheduler": "up",
        "dag_processor": "up",
        "triggerer": "up",
        "celery workers": "up",
        "warehouse": "up",
    }
    survivor = next(w for w in WORKERS if w != report.killed.worker)
    assert status["celery workers"]["detail"] == f"1: celery@{survivor}"
    last_runs = {p["pipeline_name"]: p["status"] for p in report.status["pipelines"]}
    assert last_runs == {"retail": "success", "files": "success", "github_sync": "success", "jira_sync": "success"}
    assert report.status["ok"] is True
