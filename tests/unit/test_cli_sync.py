"""`etl sync ...` in-process through reliable_etl.cli.main, against the fake Jira and GitHub."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from reliable_etl.cli import main
from reliable_etl_dev.fakes import Fault
from reliable_etl_dev.testing.sync import fake_connections, github_rows, github_truth, jira_rows, jira_truth, sync_job


def etl(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(sync_env):
    sync_env.github.add_repo("acme/api", count=120, seed=2)
    sync_env.github.add_repo("acme/web", count=40, seed=2)
    sync_env.jira.add_project("ENG", count=90, seed=2)
    return sync_env


def test_sync_github_and_jira_show_progress_and_load_everything(data, conn, capsys):
    code, out, _ = etl(capsys, "sync", "github", "--repos", "acme/api,acme/web", "--concurrency", "2")
    assert code == 0
    assert "acme/api: page 3: 20 pull requests" in out  # progress, page by page
    assert "acme/api: finished (full; 120 items, 3 pages, 0 skipped, 0 warnings" in out
    assert "acme/web: finished (full; 40 items" in out
    for repo in ("acme/api", "acme/web"):
        assert github_rows(conn, repo) == github_truth(data, repo)

    code, out, _ = etl(capsys, "sync", "jira", "--projects", "ENG", "--full-refresh")
    assert code == 0
    assert "ENG: finished (full; 90 items, 2 pages" in out
    assert jira_rows(conn, "ENG") == jira_truth(data, "ENG")

    code, out, _ = etl(capsys, "sync", "status")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["service", "entity", "status", "mode"]
    assert any(line.split()[:4] == ["github", "acme/api", "FINISHED", "full"] for line in lines)
    assert any(line.split()[:4] == ["jira", "ENG", "FINISHED", "full"] for line in lines)


def test_a_long_rate_limit_exits_75_with_the_time_to_come_back(data, conn, capsys):
    data.faults.add(Fault(service="github", kind="rate_limit", at_request=2, params={"reset_after": 30}))
    code, out, _ = etl(capsys, "sync", "github", "--repos", "acme/api", "--no-wait")
    assert code == 75
    assert "acme/api: waiting" in out
    assert "rate limited: run the same command again after" in out


def test_pause_and_resume_by_hand(data, capsys):
    assert etl(capsys, "sync", "github", "--repos", "acme/web")[0] == 0
    code, _, err = etl(capsys, "sync", "pause", "github", "acme/web")
    assert code == 1
    assert "acme/web is FINISHED: it cannot become PAUSED" in err  # the state machine says no

    data.faults.add(Fault(service="github", kind="corrupt_page", times=0))
    code, _, err = etl(capsys, "sync", "github", "--repos", "acme/web")
    assert code == 1
    assert "etl: failed:" in err
    code, out, _ = etl(capsys, "sync", "pause", "github", "acme/web")
    assert (code, out) == (0, "github acme/web: PAUSED\n")
    data.faults.clear()
    code, out, _ = etl(capsys, "sync", "github", "--repos", "acme/web")
    assert "acme/web: paused" in out
    code, out, _ = etl(capsys, "sync", "resume", "github", "acme/web")
    assert (code, out) == (0, "github acme/web: PENDING\n")
    assert etl(capsys, "sync", "github", "--repos", "acme/web")[0] == 0


def test_bad_entity_names_are_refused_before_any_request(data, capsys):
    code, _, err = etl(capsys, "sync", "jira", "--projects", "eng; drop table")
    assert code == 2
    assert "is not a Jira project key" in err
    assert data.requests == []


@pytest.mark.parametrize("mode", ["cloud", "server"])
def test_issues_deleted_during_a_no_wait_pause_are_soft_deleted_by_the_next_run(data, conn, capsys, etl_env, mode):
    """A full pass stops at a rate limit (exit 75); meanwhile the issue at its keyset boundary and one
    it has not reached are deleted; the next run loads every remaining issue and soft-deletes both."""
    from reliable_etl.config import settings

    data.jira.mode = mode
    for key, value in fake_connections(data.url, mode).items():
        etl_env.setenv(key, value)
    settings.cache_clear()
    assert etl(capsys, "sync", "jira", "--projects", "ENG")[0] == 0
    data.faults.add(Fault(service="jira", kind="rate_limit", at_request=2, params={"reset_after": 2}))

    code, out, _ = etl(capsys, "sync", "jira", "--projects", "ENG", "--full-refresh", "--no-wait")

    assert code == 75
    assert "ENG: waiting" in out
    job = sync_job(conn, "jira", "ENG")
    by_update = sorted(data.jira.issues("ENG"), key=lambda i: (i["fields"]["updated"], i["key"]))
    boundary = [i["key"] for i in by_update if i["id"] in job["keyset_ids"]]
    unread = by_update[-1]["key"]  # the walk's last issue: the recheck asks for it by id
    data.jira.delete("ENG", [*boundary, unread])
    time.sleep(max(0.0, (job["next_retry_at"] - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)

    code, out, err = etl(capsys, "sync", "jira", "--projects", "ENG")

    assert (code, err) == (0, "")
    assert "ENG: finished (full;" in out
    assert jira_rows(conn, "ENG") == jira_truth(data, "ENG")
    gone = conn.execute("select key from sync.jira_issues where deleted_at is not null").fetchall()
    assert sorted(key for (key,) in gone) == sorted([*boundary, unread])
    assert sync_job(conn, "jira", "ENG")["needs_attention"] is False
