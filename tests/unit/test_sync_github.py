"""The GitHub sync against the fake GitHub: data, boundaries, and every fault's documented end state."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from reliable_etl.sync.errors import ApiRequestError, CorruptPageError
from reliable_etl.sync.github import GitHubSync
from reliable_etl.sync.jobs import Status, set_status
from reliable_etl.sync.runner import sync_entity
from reliable_etl_dev.fakes import Fault
from reliable_etl_dev.testing.sync import github_rows, github_truth, refetched_pages, sync_job, transitions

REPO = "acme/api"


def run(run_id: str, *, full_refresh: bool = False, repo: str = REPO):
    return sync_entity(GitHubSync(run_id=run_id), repo, run_id=run_id, full_refresh=full_refresh)


@pytest.fixture
def repo(sync_env):
    sync_env.github.add_repo(REPO, count=230, seed=7)
    return sync_env


def test_full_then_incremental_pass_equal_the_server(repo, conn, etl_env):
    from reliable_etl.config import settings

    first = run("r1")
    assert (first.outcome, first.mode, first.items, first.pages) == ("finished", "full", 230, 5)
    assert github_rows(conn, REPO) == github_truth(repo, REPO)
    assert (first.api_count, first.db_count) == (230, 230)

    etl_env.setenv("ETL_SYNC_SWEEP_HOURS", "0")  # sweep on this pass too
    settings.cache_clear()
    repo.github.touch(REPO, [3, 150, 229])
    repo.github.delete(REPO, [10, 11])
    repo.clear_requests()
    second = run("r2")
    assert (second.outcome, second.mode) == ("finished", "incremental")
    assert second.pages == 1  # the three updated ones sort first; the walk stops at the watermark
    assert github_rows(conn, REPO) == github_truth(repo, REPO)
    deleted = conn.execute(
        "select number from sync.github_pull_requests where repo = %s and deleted_at is not null order by number",
        (REPO,),
    ).fetchall()
    assert [r[0] for r in deleted] == [10, 11]
    total = conn.execute("select count(*), count(distinct number) from sync.github_pull_requests").fetchone()
    assert total == (230, 230)  # soft-deleted, never duplicated

    job = sync_job(conn, "github", REPO)
    assert job["status"] == Status.FINISHED
    assert job["watermark_ts"] == max(r["updated_at"] for r in github_truth(repo, REPO))


def test_a_second_run_writes_nothing(repo, conn):
    run("r1")
    before = conn.execute("select xmin::text, id from sync.github_pull_requests order by id").fetchall()
    run("r2", full_refresh=True)
    after = conn.execute("select xmin::text, id from sync.github_pull_requests order by id").fetchall()
    assert after == before  # every row read again, none rewritten


def test_records_at_the_watermark_second_are_not_missed(repo, conn):
    run("r1")
    watermark = sync_job(conn, "github", REPO)["watermark_ts"]
    repo.github.touch(REPO, [42, 43], at=watermark)  # same second as the newest pull request synced
    run("r2")
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


def test_pull_requests_updated_during_the_walk_are_caught_by_the_next_pass(repo, conn):
    repo.faults.add(Fault(service="github", kind="reorder", at_request=3, params={"numbers": [1, 2, 5, 100]}))
    run("r1")
    run("r2")
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


def test_open_pull_requests_are_rechecked(repo, conn):
    run("r1")
    open_numbers = [r["number"] for r in github_truth(repo, REPO) if r["state"] == "OPEN"]
    conn.execute("update sync.github_pull_requests set title = 'stale' where number = %s", (open_numbers[0],))
    repo.github.delete(REPO, [open_numbers[1]])
    run("r2")
    assert github_rows(conn, REPO) == github_truth(repo, REPO)  # stale title fixed, vanished one soft-deleted


def test_short_rate_limit_is_slept_through(repo, conn):
    repo.faults.add(Fault(service="github", kind="rate_limit", at_request=2, params={"reset_after": 1}))
    started = time.monotonic()
    result = run("r1")
    assert result.outcome == "finished"
    assert time.monotonic() - started >= 0.9
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


@pytest.mark.parametrize("kind", ["rate_limit", "secondary_rate_limit"])
def test_long_rate_limit_saves_state_and_resumes_after_next_retry_at(repo, conn, kind):
    repo.faults.add(Fault(service="github", kind=kind, at_request=3, params={"reset_after": 3}))
    first = run("r1")
    assert first.outcome == "waiting"
    job = sync_job(conn, "github", REPO)
    assert job["status"] == Status.PENDING
    assert job["pages"] == 2
    assert job["cursor"] is not None
    assert dt.timedelta(seconds=1) < job["next_retry_at"] - dt.datetime.now(dt.UTC) < dt.timedelta(seconds=4)

    early = run("r1")  # before next_retry_at: nothing is sent
    assert early.outcome == "waiting"
    assert len(repo.page_requests("github", REPO)) == 3

    time.sleep((job["next_retry_at"] - dt.datetime.now(dt.UTC)).total_seconds() + 0.1)
    done = run("r1")
    assert done.outcome == "finished"
    assert github_rows(conn, REPO) == github_truth(repo, REPO)
    assert refetched_pages(repo, "github", REPO) == 1  # the refused page, once
    assert transitions(conn, "github", REPO) == [
        ("NOT_STARTED", "PENDING"),
        ("PENDING", "RUNNING"),
        ("RUNNING", "PENDING"),
        ("PENDING", "RUNNING"),
        ("RUNNING", "FINISHED"),
    ]


@pytest.mark.parametrize("kind", ["http_502", "http_504"])
def test_server_errors_halve_the_page_size(repo, conn, kind):
    repo.faults.add(Fault(service="github", kind=kind, times=0, params={"above": 20}))
    result = run("r1")
    assert result.outcome == "finished"
    assert sync_job(conn, "github", REPO)["page_size"] == 12  # 50 -> 25 -> 12
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


@pytest.mark.parametrize("kind", ["timeout", "reset", "truncated_json", "invalid_json"])
def test_transport_faults_are_retried(repo, conn, kind):
    repo.faults.add(Fault(service="github", kind=kind, at_request=2, times=2, params={"delay": 2}))
    result = run("r1")
    assert result.outcome == "finished"
    assert github_rows(conn, REPO) == github_truth(repo, REPO)
    assert refetched_pages(repo, "github", REPO) == 2


def test_a_page_corrupt_for_good_fails_the_job_for_a_person(repo, conn):
    repo.faults.add(Fault(service="github", kind="truncated_json", at_request=3, times=0))
    with pytest.raises(CorruptPageError, match=r"acme/api .* not valid JSON .* after 4 attempts"):
        run("r1")
    job = sync_job(conn, "github", REPO)
    assert (job["status"], job["needs_attention"], job["pages"]) == (Status.FAILED, True, 2)
    assert "not valid JSON" in job["last_error"]

    with pytest.raises(ApiRequestError, match="needs attention"):
        run("r2")  # the next scheduled run does not retry it blindly
    repo.faults.clear()
    assert set_status("github", REPO, Status.PENDING, reason="fixed") == Status.PENDING
    assert run("r3").outcome == "finished"
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


def test_a_wrongly_shaped_page_is_corrupt(repo, conn):
    repo.faults.add(Fault(service="github", kind="corrupt_page", at_request=1, times=0))
    with pytest.raises(CorruptPageError, match=r"(malformed|expected shape).* after 4 attempts"):
        run("r1")
    assert sync_job(conn, "github", REPO)["needs_attention"] is True


def test_an_invalid_record_is_skipped_counted_and_read_again_next_pass(repo, conn):
    repo.faults.add(Fault(service="github", kind="corrupt_record", at_request=2))
    first = run("r1")
    # two warnings: the skipped record, and the count it leaves missing (230 listed, 229 held)
    assert (first.outcome, first.skipped, first.warnings) == ("finished", 1, 2)
    assert (first.api_count, first.db_count) == (230, 229)
    reject = conn.execute("select source, reason from ops.rejected_rows where pipeline_name = 'github_sync'").fetchone()
    assert reject[0] == "github:acme/api"
    assert "not a timestamp: 'not-a-date'" in reject[1]
    assert len(github_rows(conn, REPO)) == 229

    second = run("r2")  # the skipped record's pass kept no watermark: read again, now valid
    assert second.skipped == 0
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


def test_a_rejected_cursor_falls_back_to_the_watermark(repo, conn):
    repo.faults.add(Fault(service="github", kind="invalid_cursor", at_request=3))
    result = run("r1")
    assert (result.outcome, result.warnings) == ("finished", 1)
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


def test_reconciliation_mismatch_is_a_warning_with_both_numbers(repo, conn, caplog):
    run("r1")
    conn.execute(
        "insert into sync.github_pull_requests select 'PR_extra', 1, repo, 9999, title, 'CLOSED', is_draft,"
        " author_login, created_at, '2000-01-01', closed_at, merged_at, additions, deletions, changed_files,"
        " base_ref, head_ref, url, labels from sync.github_pull_requests where number = 1"
    )
    result = run("r2")
    assert (result.outcome, result.api_count, result.db_count, result.warnings) == ("finished", 230, 231, 1)
    assert "acme/api: GitHub counts 230, we hold 231" in caplog.text


def test_an_unknown_repository_fails_clearly(sync_env, conn):
    with pytest.raises(ApiRequestError, match="repository acme/nope not found"):
        run("r1", repo="acme/nope")
    job = sync_job(conn, "github", "acme/nope")
    assert (job["status"], job["needs_attention"]) == (Status.FAILED, True)


def test_pausing_stops_at_the_next_page_and_resume_goes_on(repo, conn):
    import threading

    repo.latency = 0.2
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("r", run("r1")))
    worker.start()
    deadline = time.monotonic() + 10
    while (sync_job(conn, "github", REPO) or {}).get("pages", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    set_status("github", REPO, Status.PAUSED, reason="by the test")
    worker.join(10)
    assert result["r"].outcome == "paused"
    paused = sync_job(conn, "github", REPO)
    assert paused["status"] == Status.PAUSED
    assert paused["pages"] < 5
    assert run("r1").outcome == "paused"  # stays paused until resumed

    repo.latency = 0
    set_status("github", REPO, Status.PENDING, reason="by the test")
    assert run("r1").outcome == "finished"
    assert github_rows(conn, REPO) == github_truth(repo, REPO)


def test_a_full_pass_finds_deletions_and_mid_walk_moves_without_a_sweep(repo, conn):
    run("r1")
    repo.github.delete(REPO, [7, 8, 9])
    repo.faults.add(Fault(service="github", kind="reorder", at_request=3, params={"numbers": [20, 21]}))
    repo.clear_requests()
    result = run("r2", full_refresh=True)
    assert result.mode == "full"
    # in this very pass: the moved ones fetched again by id, the deleted ones soft-deleted
    assert github_rows(conn, REPO) == github_truth(repo, REPO)
    gone = conn.execute("select number from sync.github_pull_requests where deleted_at is not null order by 1")
    assert [r[0] for r in gone] == [7, 8, 9]
    kinds = [r.kind for r in repo.requests if r.service == "github"]
    assert "ids" not in kinds[:-1]  # no id sweep; the last request is reconcile's count
    assert kinds.count("nodes") == 1  # one batch of 5 unseen ids
