"""The Jira sync against the fake Jira (Cloud and Server): keyset pages, boundaries, faults."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from reliable_etl.sync.errors import ApiRequestError, CorruptPageError
from reliable_etl.sync.jira import JiraSync
from reliable_etl.sync.jobs import Status
from reliable_etl.sync.runner import sync_entity
from reliable_etl_dev.fakes import Fault
from reliable_etl_dev.testing.sync import fake_connections, jira_rows, jira_truth, refetched_pages, sync_job

PROJECT = "ENG"


def run(run_id: str, *, full_refresh: bool = False, project: str = PROJECT):
    return sync_entity(JiraSync(run_id=run_id), project, run_id=run_id, full_refresh=full_refresh)


def use_settings(etl_env, **values: str) -> None:
    from reliable_etl.config import settings

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


# --- issues deleted at any moment: Jira refuses JQL naming them (see reliable_etl_dev.fakes.jira) ----------


def deleted_keys(conn) -> list[str]:
    rows = conn.execute("select key from sync.jira_issues where deleted_at is not null order by id").fetchall()
    return [key for (key,) in rows]


def refusals(fake) -> int:
    """Searches Jira refused with 400 (here: JQL naming an issue that no longer exists)."""
    return sum(r.status == 400 for r in fake.requests)


def keys_of(fake, ids: list[str]) -> list[str]:
    return [i["key"] for i in fake.jira.issues(PROJECT) if i["id"] in ids]


def jira_ms(text: str) -> int:
    return round(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)


def sleep_until(moment: dt.datetime) -> None:
    time.sleep(max(0.0, (moment - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)


@pytest.fixture(params=["cloud", "server"])
def mode(request, project, etl_env) -> str:
    project.jira.mode = request.param
    use_settings(etl_env, **fake_connections(project.url, request.param))
    return request.param


def test_a_forced_full_pass_survives_issues_deleted_since_the_last_one(project, conn, etl_env, mode):
    """The recheck asks `id IN (...)` for our rows the walk did not see: the deleted ones are refused."""
    assert run("r1").outcome == "finished"
    project.jira.delete(PROJECT, ["ENG-4", "ENG-77", "ENG-200"])
    use_settings(etl_env, ETL_JIRA_FIELDS="summary,status,created,updated")  # forces a full pass

    second = run("r2")

    assert (second.outcome, second.mode) == ("finished", "full")
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    assert deleted_keys(conn) == ["ENG-4", "ENG-77", "ENG-200"]
    assert sync_job(conn, "jira", PROJECT)["needs_attention"] is False
    assert refusals(project) == 1  # one refusal naming all three, then the batch without them


def test_an_issue_deleted_at_the_keyset_boundary_while_rate_limited(project, conn, mode):
    """The walk's `id NOT IN (<ids at the boundary millisecond>)` names an issue deleted during the wait."""
    project.faults.add(Fault(service="jira", kind="rate_limit", at_request=3, params={"reset_after": 2}))
    assert run("r1").outcome == "waiting"
    job = sync_job(conn, "jira", PROJECT)
    boundary = keys_of(project, job["keyset_ids"])
    assert boundary
    project.jira.delete(PROJECT, boundary)
    sleep_until(job["next_retry_at"])

    result = run("r1")

    assert result.outcome == "finished"
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    assert deleted_keys(conn) == boundary
    assert refusals(project) == 1


def test_only_the_deleted_issues_leave_a_boundary_shared_by_many(project, conn, mode):
    """80 issues share a millisecond across pages; two of those already read are deleted in the wait."""
    first_ms = min(jira_ms(i["fields"]["updated"]) for i in project.jira.issues(PROJECT))
    project.jira.touch(PROJECT, [f"ENG-{n}" for n in range(100, 180)], at_ms=first_ms)  # pages 1 and 2
    project.faults.add(Fault(service="jira", kind="rate_limit", at_request=2, params={"reset_after": 2}))
    assert run("r1").outcome == "waiting"
    job = sync_job(conn, "jira", PROJECT)
    assert len(job["keyset_ids"]) > 2
    gone = keys_of(project, job["keyset_ids"][1:3])
    project.jira.delete(PROJECT, gone)
    sleep_until(job["next_retry_at"])

    result = run("r1")

    assert (result.outcome, result.items) == ("finished", 260)  # the others at that millisecond not read twice
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    assert deleted_keys(conn) == gone


@pytest.mark.parametrize("deleted", [["ENG-50"], [f"ENG-{n}" for n in range(41, 51)]], ids=["last-key", "ten-keys"])
def test_an_issue_deleted_between_sweep_pages(project, conn, etl_env, monkeypatch, mode, deleted):
    """The sweep's `key > "<last key>"` names an issue deleted between two pages."""
    monkeypatch.setattr("reliable_etl.sync.jira.SWEEP_PAGE_SIZE", 50)
    use_settings(etl_env, ETL_SYNC_SWEEP_HOURS="0")
    assert run("r1").outcome == "finished"
    project.faults.add(Fault(service="jira", kind="rate_limit", at_request=2, params={"on": "ids", "reset_after": 2}))
    assert run("r2").outcome == "waiting"
    job = sync_job(conn, "jira", PROJECT)
    assert job["phase"] == "sweep"
    assert job["cursor"].startswith("ENG-50")  # the next page starts after the first page's last key
    project.jira.delete(PROJECT, deleted)  # the page's last key; all ten keys the cursor holds
    sleep_until(job["next_retry_at"])

    result = run("r2")

    assert (result.outcome, result.mode) == ("finished", "incremental")
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)
    assert deleted_keys(conn) == deleted
    assert refusals(project) == len(deleted)
    assert (result.api_count, result.db_count) == (250 if len(deleted) == 10 else 259,) * 2


def test_a_query_refused_for_an_issue_the_sync_did_not_name_needs_a_person(project, conn, etl_env, mode):
    project.jira.delete(PROJECT, ["ENG-9"])
    use_settings(etl_env, ETL_JIRA_JQL="key != ENG-9")  # the configured filter names a deleted issue

    with pytest.raises(ApiRequestError, match=r"no issue ENG-9 .*: check ETL_JIRA_JQL \('key != ENG-9'\)"):
        run("r1")
    assert sync_job(conn, "jira", PROJECT)["needs_attention"] is True


def test_cloud_issues_carry_keys_because_the_sync_asks_for_them(project, conn):
    run("r1")
    assert project.jira.mode == "cloud"
    assert jira_rows(conn, PROJECT) == jira_truth(project, PROJECT)  # keys included
