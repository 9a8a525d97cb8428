"""The Jira sync against the fake Jira (Cloud and Server): keyset pages, boundaries, faults."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from conftest import fake_connections, jira_rows, jira_truth, refetched_pages, sync_job

from etl.sync.errors import ApiRequestError, CorruptPageError
from etl.sync.fake import Fault
from etl.sync.jira import JiraSync
from etl.sync.jobs import Status
from etl.sync.runner import sync_entity

PROJECT = "ENG"


def run(run_id: str, *, full_refresh: bool = False, project: str = PROJECT):
    return sync_entity(JiraSync(run_id=run_id), project, run_id=run_id, full_refresh=full_refresh)


def use_settings(etl_env, **values: str) -> None:
    from etl.config import settings

    for key, value in values.items():
        etl_env.setenv(key, value)
    settings.cache_clear()


@pytest.fixture
def project(sync_env):
    sync_env.jira.add_project(PROJECT, count=260, seed=3)
    return sync_env


@pytest.mark.parametrize("mode", ["cloud", "server"])
def test_full_then_incremental_pass_equal_the_server(project, conn, etl_env, mode):
    project.jira.mode = mode
    use_settings(etl_env, **fake_connections(project.url, mode), ETL_SYNC_SWEEP_HOURS="0")
    first = run("r1")
    assert (first.outcome, first.mode, first.items, first.pages) == ("finished", "full", 260, 6)
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    assert (first.api_count, first.db_count) == (260, 260)

    project.jira.touch(PROJECT, ["ENG-3", "ENG-200"])
    project.jira.delete(PROJECT, ["ENG-9"])
    second = run("r2")
    assert (second.outcome, second.mode, second.pages) == ("finished", "incremental", 1)
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    gone = conn.execute("select key from sync.jira_issues where deleted_at is not null").fetchall()
    assert gone == [("ENG-9",)]


def test_each_page_is_bounded_jql_in_epoch_milliseconds(project, conn):
    run("r1")
    job = sync_job(conn, "jira", PROJECT)
    upper_ms = int(job["walk_upper"].timestamp() * 1000)
    jqls = [r.key[0] for r in project.page_requests("jira", PROJECT)]
    assert jqls[0] == f'project = "{PROJECT}" AND updated <= {upper_ms} ORDER BY updated ASC, key ASC'
    assert all(f"updated <= {upper_ms}" in jql for jql in jqls)  # the upper bound stays frozen
    assert all("updated >= 1" in jql for jql in jqls[1:])  # later pages start at the keyset

    project.jira.touch(PROJECT, ["ENG-5"])
    project.clear_requests()
    run("r2")
    lower = job["watermark_ts"] - dt.timedelta(seconds=300)  # the overlap window
    assert f"updated >= {int(lower.timestamp() * 1000)}" in project.page_requests("jira", PROJECT)[0].key[0]


def test_issues_updated_during_the_walk_shift_no_page(project, conn):
    """Issues already read jump past the upper bound mid-walk: offset paging would skip others."""
    oldest = sorted(project.jira.issues(PROJECT), key=lambda i: (i["fields"]["updated"], int(i["id"])))[:10]
    read_on_page_1 = [issue["key"] for issue in oldest]
    project.faults.add(Fault(service="jira", kind="reorder", at_request=3, params={"keys": read_on_page_1}))
    first = run("r1")
    assert first.items == 260  # every issue read once, none skipped by the moves
    assert {r["id"] for r in jira_rows(conn, PROJECT)} == {r["id"] for r in jira_truth(project, PROJECT)}
    run("r2")  # the moved ones' new versions
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)


def test_issues_leaving_the_window_mid_walk_come_with_the_next_pass(project, conn):
    project.faults.add(Fault(service="jira", kind="reorder", at_request=2, params={"count": 4}))
    run("r1")
    assert len(jira_rows(conn, PROJECT)) == 256  # updated after the walk froze its upper bound
    run("r2")
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)


def test_issues_sharing_a_millisecond_across_pages_are_read_once(project, conn):
    tied = [f"ENG-{n}" for n in range(100, 180)]  # 80 issues, one millisecond, pages of 50
    project.jira.touch(PROJECT, tied, at_ms=1_735_000_000_000)
    result = run("r1")
    assert result.items == 260
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    jqls = [r.key[0] for r in project.page_requests("jira", PROJECT)]
    assert any("id NOT IN (" in jql for jql in jqls)

    watermark = sync_job(conn, "jira", PROJECT)["watermark_ts"]
    project.jira.touch(PROJECT, ["ENG-7"], at_ms=int(watermark.timestamp() * 1000))  # at the watermark exactly
    run("r2")
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)


def test_old_search_410_says_what_to_change(project, conn, etl_env):
    use_settings(etl_env, **fake_connections(project.url, "server"))  # a Cloud site configured as Server
    with pytest.raises(ApiRequestError, match=r'410 Gone .* Set extra \{"deployment": "cloud"\}'):
        run("r1")
    job = sync_job(conn, "jira", PROJECT)
    assert (job["status"], job["needs_attention"]) == (Status.FAILED, True)
    assert "410" in job["last_error"]


def test_short_429_is_slept_through_and_long_one_pends(project, conn):
    project.faults.add(Fault(service="jira", kind="rate_limit", at_request=2, params={"reset_after": 1}))
    project.faults.add(Fault(service="jira", kind="rate_limit", at_request=4, params={"reset_after": 3}))
    first = run("r1")
    assert first.outcome == "waiting"
    job = sync_job(conn, "jira", PROJECT)
    assert (job["status"], job["pages"]) == (Status.PENDING, 2)
    time.sleep((job["next_retry_at"] - dt.datetime.now(dt.UTC)).total_seconds() + 0.1)
    assert run("r1").outcome == "finished"
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    assert refetched_pages(project, "jira", PROJECT) == 2  # each refused page once


def test_502_halves_the_page_size(project, conn):
    project.faults.add(Fault(service="jira", kind="http_502", times=0, params={"above": 30}))
    assert run("r1").outcome == "finished"
    assert sync_job(conn, "jira", PROJECT)["page_size"] == 25
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)


@pytest.mark.parametrize("kind", ["timeout", "reset", "truncated_json", "invalid_json"])
def test_transport_faults_are_retried(project, conn, kind):
    project.faults.add(Fault(service="jira", kind=kind, at_request=3, params={"delay": 2}))
    assert run("r1").outcome == "finished"
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)


def test_a_corrupt_page_fails_for_a_person_with_the_error_kept(project, conn):
    project.faults.add(Fault(service="jira", kind="corrupt_page", at_request=2, times=0))
    with pytest.raises(CorruptPageError, match="expected shape"):
        run("r1")
    job = sync_job(conn, "jira", PROJECT)
    assert (job["status"], job["needs_attention"], job["pages"]) == (Status.FAILED, True, 1)
    assert len(jira_rows(conn, PROJECT)) == 50  # the good page stays; nothing of the bad one


def test_an_invalid_record_is_skipped_and_counted(project, conn):
    project.faults.add(Fault(service="jira", kind="corrupt_record", at_request=2))
    first = run("r1")
    assert (first.outcome, first.skipped) == ("finished", 1)
    reason = conn.execute("select reason from ops.rejected_rows where pipeline_name = 'jira_sync'").fetchone()[0]
    assert "not a timestamp: 'yesterday'" in reason
    run("r2")
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)


def test_a_config_change_forces_a_full_pass(project, conn, etl_env):
    run("r1")
    assert run("r2").mode == "incremental"
    use_settings(etl_env, ETL_JIRA_FIELDS="summary,status,created,updated")
    third = run("r3")
    assert (third.mode, third.items) == ("full", 260)
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)  # fields now the four asked for


def test_a_jql_filter_scopes_every_query(project, conn, etl_env):
    use_settings(etl_env, ETL_JIRA_JQL='status != "Done"')
    run("r1")
    rows = jira_rows(conn, PROJECT)
    assert rows
    assert all(r["fields"]["status"]["name"] != "Done" for r in rows)
    assert all('(status != "Done")' in r.key[0] for r in project.page_requests("jira", PROJECT))


def test_a_full_pass_finds_deletions_and_issues_that_left_the_window(project, conn):
    run("r1")
    project.jira.delete(PROJECT, ["ENG-4", "ENG-5"])
    project.faults.add(Fault(service="jira", kind="reorder", at_request=2, params={"count": 3}))
    second = run("r2", full_refresh=True)
    assert second.mode == "full"
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)  # in this very pass
    gone = conn.execute("select key from sync.jira_issues where deleted_at is not null order by 1").fetchall()
    assert gone == [("ENG-4",), ("ENG-5",)]
    assert not [r for r in project.requests if r.kind == "ids"]  # no id sweep
