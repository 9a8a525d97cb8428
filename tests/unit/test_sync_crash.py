"""SIGKILL the `etl sync` process at 17 points, resume it, and find the tables exact.

Each case runs the real command in a subprocess with a failpoint armed (reliable_etl.failpoints):
the process kills itself with SIGKILL at that line, with no cleanup and no commit. The
same command then runs again. Afterwards the tables equal the fake server's data, no
record is duplicated, at most one page was fetched twice per repository or project, and
the killed entity's recovery is in ops.sync_transitions.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from reliable_etl.sync.jobs import Status
from reliable_etl_dev.testing.sync import (
    github_rows,
    github_truth,
    jira_rows,
    jira_truth,
    refetched_pages,
    sync_job,
    transitions,
)

ETL = [sys.executable, "-m", "reliable_etl.cli"]
REPOS = {"acme/api": 180, "acme/web": 70}  # pages of 50: 4 and 2
PROJECTS = {"ENG": 160, "OPS": 60}

GITHUB_CASES = [
    # (failpoint, entity killed, incremental pass)
    ("github.page.fetched:2", "acme/api", False),  # a page read, nothing written
    ("github.page.upserted:3", "acme/api", False),  # rows written, checkpoint not yet
    ("github.page.checkpointed:4", "acme/api", False),  # last page and its checkpoint, not committed
    ("github.page.committed:5", "acme/web", False),  # committed, next page not asked for
    ("github.recheck.checkpointed:1", "acme/api", False),  # the full pass's check of unseen rows
    ("github.sweep.upserted:1", "acme/api", True),  # inside the id sweep of an incremental pass
    ("github.sweep.committed:2", "acme/api", True),  # sweep applied, reconcile not started
    ("github.reconcile.checkpointed:1", "acme/api", False),
    ("github.page.upserted:1", "acme/api", True),  # an incremental walk
    ("github.recheck.upserted:1", "acme/api", True),  # re-checking open pull requests
]
JIRA_CASES = [
    ("jira.page.fetched:1", "ENG", False),
    ("jira.page.upserted:2", "ENG", False),
    ("jira.page.checkpointed:4", "ENG", False),
    ("jira.page.committed:5", "OPS", False),
    ("jira.recheck.upserted:1", "ENG", False),
    ("jira.sweep.checkpointed:1", "ENG", True),
    ("jira.reconcile.upserted:1", "ENG", False),
]
# the quick subset (make test-quick) keeps the case the issue names; CI runs them all
QUICK = {"github.page.upserted:3", "jira.page.upserted:2"}


def cases(rows: list[tuple]) -> list:
    return [pytest.param(*row, id=row[0], marks=() if row[0] in QUICK else pytest.mark.slow) for row in rows]


def etl_sync(service: str, entities: dict, failpoint: str | None = None) -> subprocess.CompletedProcess:
    option = "--repos" if service == "github" else "--projects"
    env = {**os.environ, "ETL_FAILPOINTS": failpoint or "", "ETL_SYNC_SWEEP_HOURS": "0"}
    return subprocess.run(
        [*ETL, "sync", service, option, ",".join(entities), "--concurrency", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def kill_and_resume(fake, conn, service: str, entities: dict, failpoint: str, killed: str, incremental: bool):
    if incremental:
        assert etl_sync(service, entities).returncode == 0
        if service == "github":
            fake.github.touch("acme/api", [1, 2, 3, 60, 61])
        fake.clear_requests()
    crashed = etl_sync(service, entities, failpoint)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    assert sync_job(conn, service, killed)["status"] == Status.RUNNING  # as the dead process left it

    resumed = etl_sync(service, entities)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr

    for entity in entities:
        assert sync_job(conn, service, entity)["status"] == Status.FINISHED
        assert refetched_pages(fake, service, entity) <= 1, (entity, fake.page_requests(service, entity))
    path = transitions(conn, service, killed)
    assert ("RUNNING", "FAILED") in path  # the lost worker was noticed
    assert path[-3:] == [("FAILED", "PENDING"), ("PENDING", "RUNNING"), ("RUNNING", "FINISHED")]


@pytest.mark.parametrize(("failpoint", "killed", "incremental"), cases(GITHUB_CASES))
def test_github_sync_survives_sigkill(sync_env, conn, failpoint, killed, incremental):
    for repo, count in REPOS.items():
        sync_env.github.add_repo(repo, count=count, seed=11)
    kill_and_resume(sync_env, conn, "github", REPOS, failpoint, killed, incremental)
    for repo in REPOS:
        assert github_rows(conn, repo) == github_truth(sync_env, repo)
    assert conn.execute("select count(*) = count(distinct id) from sync.github_pull_requests").fetchone()[0]
    assert conn.execute("select count(*) from sync.github_pull_requests").fetchone()[0] == sum(REPOS.values())


@pytest.mark.parametrize(("failpoint", "killed", "incremental"), cases(JIRA_CASES))
def test_jira_sync_survives_sigkill(sync_env, conn, failpoint, killed, incremental):
    for project, count in PROJECTS.items():
        sync_env.jira.add_project(project, count=count, seed=11)
    kill_and_resume(sync_env, conn, "jira", PROJECTS, failpoint, killed, incremental)
    for project in PROJECTS:
        assert jira_rows(conn, project) == jira_truth(sync_env, project)
    assert conn.execute("select count(*) from sync.jira_issues").fetchone()[0] == sum(PROJECTS.values())


def test_recovery_metrics_count_the_recoveries(sync_env, conn):
    sync_env.jira.add_project("ENG", count=120, seed=11)
    kill_and_resume(sync_env, conn, "jira", {"ENG": 120}, "jira.page.upserted:2", "ENG", False)
    out = subprocess.run([*ETL, "sync", "metrics"], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "jira: 1 recoveries, 1 successful" in out
    assert "data consistency 1/1 entities (100%)" in out
    row = conn.execute("select * from ops.sync_recovery_metrics where service = 'jira'").fetchone()
    assert row[1:3] == (1, 1)
    assert row[3] > 0  # seconds from the loss to the finish


def test_the_killed_runs_ledger_row_is_closed_as_lost(sync_env, conn):
    """Found by the chaos suite: the dead run stayed "running" in ops.pipeline_runs for good."""
    sync_env.jira.add_project("ENG", count=120, seed=11)
    kill_and_resume(sync_env, conn, "jira", {"ENG": 120}, "jira.page.upserted:2", "ENG", False)
    runs = conn.execute(
        "select run_id, status, error, metadata->>'lost' from ops.pipeline_runs"
        " where pipeline_name = 'jira_sync' order by started_at"
    ).fetchall()
    assert [r[1] for r in runs] == ["failed", "success"]
    assert runs[0][2].startswith("process lost: jira ENG was left running")
    assert runs[0][3] == "true"
    assert runs[1][0] in runs[0][2]  # names the run that found it
