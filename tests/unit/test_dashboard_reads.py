"""The dashboard's reads on a real warehouse: every figure equals what the ops tables hold.

The routes' functions run on a `Reader` over the test warehouse (the api-server runs the same
ones; tests/e2e/test_dashboard_airflow.py checks them through it, with users and roles).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reliable_etl_dev.testing.dashboard import EXPECTED, GOLD_CHECKS, RUNS, SECRETS, TABLES, expected_window, seed
from reliable_etl_plugin.dashboard.routes import checkpoints, checks, errors, health, metrics, timeline
from reliable_etl_plugin.dashboard.warehouse import Reader


@pytest.fixture(autouse=True)
def _leave_the_tables_empty(conn: psycopg.Connection) -> Iterator[None]:
    """The seeded rows would confuse other modules' tests of the same warehouse."""
    yield
    conn.execute(f"truncate {TABLES}")


@pytest.fixture
def seeded(conn: psycopg.Connection) -> dt.datetime:
    from reliable_etl_plugin.dashboard import secrets

    secrets.forget()
    return seed(conn)


@pytest.fixture
def reader(conn: psycopg.Connection) -> Reader:
    return Reader(conn)


def test_health_grades_each_pipeline_on_its_last_10_finished_runs(seeded, reader, conn) -> None:
    answer = health.build_health(reader)

    by_name = {p.pipeline: p for p in answer.pipelines}
    assert {name: p.status for name, p in by_name.items()} == EXPECTED
    for name in RUNS:
        window = expected_window(conn, name)
        figures = by_name[name].metrics
        assert figures.runs == len(window) == 10
        assert figures.failed_runs == sum(r["status"] == "failed" for r in window)
        assert figures.avg_error_rate == pytest.approx(statistics.mean(r["error_rate"] for r in window))
        assert figures.avg_duration_s == pytest.approx(statistics.mean(r["duration_ms"] for r in window) / 1000)
        assert figures.avg_records_in == pytest.approx(statistics.mean(r["records_in"] for r in window))
    assert by_name["files"].message.startswith("degraded: 3 of the last 10 runs failed (30%)")
    assert by_name["retail"].last_run_status == "running"  # the run under way shows, ungraded
    # overall: the worst pipeline; the figures over all graded runs
    assert answer.status == "unhealthy"
    assert answer.metrics.runs == 40
    assert answer.metrics.failed_runs == 9
    assert "github_sync unhealthy" in answer.message
    assert "watchdog unhealthy: retail_daily" in answer.message
    assert "1 alert(s) firing: health:redis" in answer.message


def test_health_carries_the_latest_watchdog_and_maintenance_results(seeded, reader) -> None:
    answer = health.build_health(reader)

    assert answer.watchdog.status == "unhealthy"
    assert answer.watchdog.pipelines["retail_daily"].days_behind == 3
    jobs = {m.job: m for m in answer.maintenance}
    assert set(jobs) == {"health_check", "backup_critical_data"}  # the watchdog has its own field
    assert jobs["health_check"].status == "unhealthy"  # the latest of its two runs
    assert not jobs["health_check"].ok
    assert jobs["backup_critical_data"].ok
    assert [a.alert_key for a in answer.alerts] == ["health:redis"]  # firing only


def test_watchdog_or_health_check_degrades_a_healthy_overall_grade(conn, reader) -> None:
    seed(conn)
    conn.execute("delete from ops.pipeline_runs where pipeline_name <> 'retail'")

    assert health.build_health(reader).status == "degraded"  # retail healthy, watchdog unhealthy

    conn.execute("truncate ops.maintenance_runs, ops.alert_state")
    answer = health.build_health(reader)
    assert answer.status == "healthy"
    assert answer.message == "healthy: 1 pipelines, 10 recent runs, none degraded"


def test_metrics_are_the_last_10_runs_and_their_averages(seeded, reader, conn) -> None:
    answer = metrics.build_metrics(reader)

    assert answer.window == 10
    by_name = {p.pipeline: p for p in answer.pipelines}
    assert set(by_name) == set(RUNS)
    for name in RUNS:
        window = expected_window(conn, name)
        got = by_name[name]
        assert [r.run_id for r in got.runs] == [r["run_id"] for r in window]
        assert [r.records_rejected for r in got.runs] == [r["records_rejected"] for r in window]
        avg = got.averages
        assert avg.records_out == pytest.approx(statistics.mean(r["records_out"] for r in window))
        assert avg.records_rejected == pytest.approx(statistics.mean(r["records_rejected"] for r in window))
        assert avg.error_rate == pytest.approx(statistics.mean(r["error_rate"] for r in window))
        assert avg.duration_s == pytest.approx(statistics.mean(r["duration_ms"] for r in window) / 1000)
        assert got.status == EXPECTED[name]
    lost = [r for r in by_name["files"].runs if r.lost]
    assert [r.run_id for r in lost] == ["files_run_00"]


def test_health_history_grades_each_run_on_the_window_ending_with_it(seeded, conn) -> None:
    answer = health.get_health_history(Reader(conn))

    history = {p.pipeline: p.points for p in answer.pipelines}
    retail = history["retail"]
    assert [p.run_id for p in retail] == [f"retail_run_{n:02d}" for n in range(11, -1, -1)]  # oldest first
    # independently: each run's window is it and the (up to) 9 finished runs before it
    runs = list(reversed(expected_window(conn, "retail", window=100)))
    for n, point in enumerate(retail):
        window = runs[max(0, n - 9) : n + 1]
        assert point.runs == len(window)
        assert point.failed_share == pytest.approx(sum(r["status"] == "failed" for r in window) / len(window))
    assert retail[0].level == "unhealthy"  # one run, failed
    assert retail[-1].level == "healthy"
    assert history["github_sync"][-1].level == "unhealthy"
    assert answer.thresholds == {"failed_share": (0.2, 0.5), "error_rate": (0.1, 0.2)}


def test_checkpoints_hold_the_ledgers_as_they_are(seeded, reader, conn) -> None:
    answer = checkpoints.get_checkpoints(reader)

    assert [(m.month_key, m.status, m.rows_written) for m in answer.processed_months] == [
        ("2011-01", "completed", 1234),
        ("2011-02", "failed", 0),
        ("2011-03", "in_progress", None),
    ]
    assert [(u.pipeline_name, u.unit_key, u.rows_written) for u in answer.processed_units] == [
        ("weekly_country_sales", "2011-01-03", 12)
    ]
    jobs = {(j.service, j.entity): j for j in answer.sync_jobs}
    api = jobs[("github", "acme/api")]
    assert (api.status, api.phase, api.cursor, api.pages, api.items, api.api_cost) == (
        "RUNNING", "walk", "Y3Vyc29yOjEyMw==", 1500, 150000, 1500,
    )  # fmt: skip
    eng = jobs[("jira", "ENG")]
    assert eng.next_retry_at == seeded + dt.timedelta(minutes=10)
    assert eng.last_error == "rate limited: retry after 600 s"
    assert jobs[("jira", "OPS")].needs_attention
    recovery = {r.service: r for r in answer.sync_recovery}
    assert (recovery["github"].total_recoveries, recovery["github"].successful_recoveries) == (1, 1)
    assert recovery["github"].avg_recovery_seconds == pytest.approx(90.0)  # failure -> FINISHED
    assert [(f.status, f.snapshot) for f in answer.file_loads] == [("refused", None), ("loaded", "students__20110101")]
    assert [s.snapshot for s in answer.file_snapshots] == ["students__20110101", "students__20101231"]
    assert answer.file_snapshots[0].rollback == "etl files rollback --table students --to students__20110101"


def test_errors_are_the_latest_logged_errors_with_task_log_links(seeded, reader) -> None:
    answer = errors.get_errors(reader, limit=50)

    assert [e.level for e in answer.errors] == ["ERROR"] * 3  # warnings and info left out
    newest, mapped, plain = answer.errors
    assert newest.log_url is None  # logged outside Airflow
    assert mapped.log_url == "/dags/engineering_sync/runs/manual__2026/tasks/sync_github/mapped/3?try_number=1"
    assert plain.log_url == (
        "/dags/retail_daily/runs/scheduled__2011-01-28T02%3A00%3A00%2B00%3A00/tasks/load_day?try_number=2"
    )
    assert len(errors.get_errors(reader, limit=2).errors) == 2


def test_timeline_marks_processed_days_gaps_failures_and_the_days_behind(conn, reader, etl_env) -> None:
    from reliable_etl.config import settings

    seed(conn)
    etl_env.setenv("ETL_RETAIL_START_DATE", "2011-01-01")
    etl_env.setenv("ETL_RETAIL_END_DATE", "2011-01-10")
    settings.cache_clear()
    for day in (1, 2, 3, 5, 6, 7):  # day 4: a gap; day 8: failed; 9, 10: behind
        conn.execute(
            "insert into silver.day_fingerprint (sales_date, source_sha256, row_count, net_amount, fingerprint)"
            " values (%s, 'x', %s, 0, 'f')",
            (dt.date(2011, 1, day), 100 + day),
        )
    conn.execute(
        "insert into ops.pipeline_runs (pipeline_name, run_id, status, error, metadata) values"
        " ('retail', 'day8_old', 'failed', 'first try', '{\"day\": \"2011-01-08\"}'),"
        " ('retail', 'day8', 'failed', 'process lost: killed', '{\"day\": \"2011-01-08\", \"lost\": true}')"
    )
    conn.execute("update ops.pipeline_runs set started_at = started_at - interval '1 hour' where run_id = 'day8_old'")

    answer = timeline.get_timeline(reader)

    assert (answer.first_day, answer.last_day, answer.days) == (dt.date(2011, 1, 1), dt.date(2011, 1, 10), 10)
    assert [(s.status, s.first_day.day, s.last_day.day, s.row_count) for s in answer.segments] == [
        ("processed", 1, 3, 306),
        ("gap", 4, 4, 0),
        ("processed", 5, 7, 318),
        ("failed", 8, 8, 0),
        ("behind", 9, 10, 0),
    ]
    failed = answer.segments[3]
    assert (failed.run_id, failed.error, failed.lost) == ("day8", "process lost: killed", True)  # its latest run
    assert answer.counts == {"processed": 6, "failed": 1, "running": 0, "gap": 1, "behind": 2}
    assert answer.last_processed_day == dt.date(2011, 1, 7)


def test_timeline_ends_with_the_last_day_due(etl_env) -> None:
    from reliable_etl.config import settings

    etl_env.setenv("ETL_RETAIL_START_DATE", "2024-05-01")
    etl_env.delenv("ETL_RETAIL_END_DATE", raising=False)
    settings.cache_clear()
    # day D runs at D+1 02:00 UTC
    assert timeline.window(dt.datetime(2024, 5, 10, 1, 59, tzinfo=dt.UTC)) == (dt.date(2024, 5, 1), dt.date(2024, 5, 8))
    assert timeline.window(dt.datetime(2024, 5, 10, 2, 0, tzinfo=dt.UTC)) == (dt.date(2024, 5, 1), dt.date(2024, 5, 9))


def test_prometheus_exposition_parses_and_holds_the_same_figures(seeded, reader, conn) -> None:
    response = metrics.get_prometheus(reader)

    assert response.media_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.body.decode())}
    value = {(f.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert value[("etl_health_status", ())] == 2  # unhealthy
    levels = {"healthy": 0, "degraded": 1, "unhealthy": 2}
    for name, level in EXPECTED.items():
        labels = (("pipeline", name),)
        window = expected_window(conn, name)
        assert value[("etl_pipeline_health_status", labels)] == levels[level]
        assert value[("etl_pipeline_runs", labels)] == 10
        assert value[("etl_pipeline_failed_runs_ratio", labels)] == pytest.approx(
            sum(r["status"] == "failed" for r in window) / 10
        )
        assert value[("etl_pipeline_error_rate_avg", labels)] == pytest.approx(
            statistics.mean(r["error_rate"] for r in window)
        )
        assert value[("etl_pipeline_records_rejected_avg", labels)] == pytest.approx(
            statistics.mean(r["records_rejected"] for r in window)
        )
        assert value[("etl_pipeline_last_run_timestamp_seconds", labels)] == window[0]["started_at"].timestamp()
    api = (("entity", "acme/api"), ("service", "github"))
    assert value[("etl_sync_pages", api)] == 1500
    assert value[("etl_sync_job_state", (*api, ("state", "RUNNING")))] == 1
    assert value[("etl_sync_job_state", (*api, ("state", "FAILED")))] == 0
    assert value[("etl_sync_needs_attention", (("entity", "OPS"), ("service", "jira")))] == 1
    assert value[("etl_watchdog_days_behind", (("pipeline", "retail_daily"),))] == 3
    assert value[("etl_maintenance_job_ok", (("job", "health_check"),))] == 0
    assert value[("etl_alerts_firing", ())] == 1
    volume = (("check", "volume_against_history"), ("pipeline", "retail"), ("severity", "warning"),
              ("target", "gold.fact_sales_monthly"))  # fmt: skip
    net = (("check", "net_amount_matches_silver"), *volume[1:2], ("severity", "error"), volume[3])
    assert (value[("etl_check_passed", volume)], value[("etl_check_unit_published", volume)]) == (0, 1)
    assert value[("etl_check_passed", net)] == 1  # the latest verdict: the failed one came before


def test_checks_are_each_checks_latest_verdict_with_its_history(seeded, reader) -> None:
    answer = checks.build_checks(reader)

    by_name = {c.check_name: c for c in answer.checks}
    assert set(by_name) == {"net_amount_matches_silver", "volume_against_history"}
    net = by_name["net_amount_matches_silver"]
    assert [(v.unit_key, v.passed, v.published) for v in net.history] == [
        (month, passed, published)  # newest first
        for month, name, _severity, passed, published, _details in reversed(GOLD_CHECKS)
        if name == "net_amount_matches_silver"
    ]
    assert (net.latest.unit_key, net.latest.passed, net.failures, net.severity) == ("2011-02", True, 1, "error")
    volume = by_name["volume_against_history"]
    assert (volume.latest.passed, volume.latest.published, volume.severity) == (False, True, "warning")
    assert volume.latest.details["median_lines_before"] == 100.0
    assert [len(c.history) for c in checks.build_checks(reader, history=1).checks] == [1, 1]


def test_an_empty_warehouse_answers_empty_and_healthy(conn, reader) -> None:
    seed(conn)
    conn.execute(f"truncate {TABLES}")

    answer = health.build_health(reader)
    assert (answer.status, answer.pipelines, answer.watchdog) == ("healthy", [], None)
    assert answer.message == "healthy: no pipeline has run yet"
    assert metrics.build_metrics(reader).pipelines == []
    body = metrics.get_prometheus(reader).body.decode()
    assert [f.name for f in text_string_to_metric_families(body)][:1] == ["etl_health_status"]


def test_secrets_in_the_tables_never_come_out(seeded, conn, etl_env) -> None:
    from reliable_etl_dev.testing.dashboard import CONNECTION_ENV
    from reliable_etl_plugin.dashboard import secrets

    for name, value in CONNECTION_ENV.items():
        etl_env.setenv(name, value)
    # the e2e test creates this one in Airflow's metadata database; here it is a variable too
    etl_env.setenv("AIRFLOW_CONN_NOTIFY_EMAIL", f"smtp://etl:{SECRETS[3]}@smtp.example.com:587")
    secrets.forget()
    reader = Reader(conn)

    bodies = [
        health.build_health(reader).model_dump_json(),
        metrics.build_metrics(reader).model_dump_json(),
        metrics.get_prometheus(reader).body.decode(),
        checkpoints.get_checkpoints(reader).model_dump_json(),
        errors.get_errors(reader, limit=50).model_dump_json(),
        checks.build_checks(reader).model_dump_json(),
        health.get_health_history(reader).model_dump_json(),
    ]

    raw = "\n".join(
        str(row)
        for row in conn.execute(
            "select message from ops.pipeline_logs union all select error from ops.pipeline_runs"
            " union all select last_error from ops.sync_jobs union all select result::text from ops.maintenance_runs"
        ).fetchall()
    )
    for secret in SECRETS:
        assert secret in raw  # the tables do hold them
        for body in bodies:
            assert secret not in body
    assert "***" in bodies[4]
    secrets.forget()
