"""Known rows for the dashboard's tests (tests/unit/test_dashboard_*.py, tests/e2e/test_dashboard_airflow.py):
what the ops tables hold, and secrets in them.

``seed(conn)`` empties the tables the dashboard reads and writes rows whose figures the tests
know: four pipelines graded healthy, degraded (failed runs), unhealthy and degraded (error
rate); months, units, sync jobs with a recovery, file loads and snapshots, logged errors with
and without Airflow task ids, maintenance and watchdog results, a firing alert. Every free-text
column also carries one of `SECRETS` the way a careless writer could have left it.
"""

# The "secrets" below are fakes, planted in the rows for the tests to prove they never come out.
# ruff: noqa: S105

from __future__ import annotations

import datetime as dt
import json

import psycopg

# Connections the api-server is given (as variables) or that are created in its metadata database;
# their secret values then appear verbatim in the rows below and must never come out.
SLACK_SECRET = "T0SECRET1/B0SECRET2/slackWebhookSecret3"
TEAMS_SECRET = "/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=teamsSig4Secret"
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0" * 2
DB_PASSWORD = "Plain-Db-Secret-42"  # created through the REST API in the e2e test
ENV_PASSWORD = "EnvConnSecret-77"  # an AIRFLOW_CONN_* password with no pattern around it
SECRETS = (SLACK_SECRET, "teamsSig4Secret", GITHUB_TOKEN, DB_PASSWORD, ENV_PASSWORD)

CONNECTION_ENV = {
    "AIRFLOW_CONN_NOTIFY_SLACK": json.dumps({"conn_type": "slackwebhook", "password": SLACK_SECRET}),
    "AIRFLOW_CONN_NOTIFY_TEAMS": json.dumps(
        {"conn_type": "http", "host": "https://prod.environment.api.powerplatform.com:443", "password": TEAMS_SECRET}
    ),
    "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps(
        {"conn_type": "http", "host": "https://api.github.com", "password": GITHUB_TOKEN}
    ),
    "AIRFLOW_CONN_LEGACY_FTP": f"ftp://reader:{ENV_PASSWORD}@files.example.com:21",
}

TABLES = (
    "ops.pipeline_runs, ops.pipeline_logs, ops.processed_months, ops.processed_units, ops.sync_jobs,"
    " ops.sync_transitions, ops.file_loads, ops.file_snapshots, ops.maintenance_runs, ops.alert_state,"
    " ops.check_results, silver.day_fingerprint, bronze.retail_files"
)

# retail's gold checks, oldest first: (month, check, severity, passed, published, details)
GOLD_CHECKS = [
    ("2011-01", "net_amount_matches_silver", "error", True, True, {"gold_net_amount": 10.5, "silver_net_amount": 10.5}),
    ("2011-01", "volume_against_history", "warning", True, True, {"lines": 100, "median_lines_before": None}),
    ("2011-02", "net_amount_matches_silver", "error", False, False, {"gold_net_amount": 9, "silver_net_amount": 12}),
    ("2011-02", "net_amount_matches_silver", "error", True, True, {"gold_net_amount": 12, "silver_net_amount": 12}),
    ("2011-02", "volume_against_history", "warning", False, True,
     {"lines": 20, "median_lines_before": 100.0, "note": f"postgresql://etl:{DB_PASSWORD}@db"}),
]  # fmt: skip

# pipeline -> finished runs, newest first: (status, records_in, records_rejected); the graded window is 10
RUNS = {
    # the two oldest failed runs are outside the window: healthy
    "retail": [("success", 1000, 5)] * 10 + [("failed", 1000, 0)] * 2,
    "files": [("failed", 100, 0)] * 3 + [("success", 100, 0)] * 7,  # 30% failed: degraded
    "github_sync": [("failed", 50, 0)] * 6 + [("success", 50, 0)] * 4,  # 60% failed: unhealthy
    "jira_sync": [("success", 100, 15)] * 10,  # 15% error rate: degraded
}
EXPECTED = {"retail": "healthy", "files": "degraded", "github_sync": "unhealthy", "jira_sync": "degraded"}

ERROR_LOGS = [  # (message, dag_id, task_id, run_id, map_index, try_number)
    (f"day 2011-01-28 failed: login refused for password {DB_PASSWORD}", "retail_daily", "load_day",
     "scheduled__2011-01-28T02:00:00+00:00", -1, 2),
    (f"page failed: 401 with token {GITHUB_TOKEN}", "engineering_sync", "sync_github", "manual__2026", 3, 1),
    (f"notify failed: https://hooks.slack.com/services/{SLACK_SECRET}", None, None, None, None, None),
]  # fmt: skip


def seed(conn: psycopg.Connection, now: dt.datetime | None = None) -> dt.datetime:
    """Empty the dashboard's tables and write the known rows; returns the `now` they are relative to."""
    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    conn.execute(f"truncate {TABLES}")
    for pipeline, runs in RUNS.items():
        for n, (status, records_in, rejected) in enumerate(runs):
            started = now - dt.timedelta(hours=n + 1)
            lost = pipeline == "files" and n == 0
            error = None
            if status == "failed":
                error = "process lost: no holder of the unit's lock" if lost else f"boom {n} (password {DB_PASSWORD})"
                if pipeline == "files" and n == 1:
                    error = f"notify_teams refused the card: {TEAMS_SECRET}"
            conn.execute(
                "insert into ops.pipeline_runs (pipeline_name, run_id, status, started_at, ended_at, duration_ms,"
                " records_in, records_out, records_rejected, error, metadata)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    pipeline,
                    f"{pipeline}_run_{n:02d}",
                    status,
                    started,
                    started + dt.timedelta(seconds=30 + n),
                    (30 + n) * 1000,
                    records_in,
                    records_in - rejected,
                    rejected,
                    error,
                    json.dumps({"lost": True} if lost else {"dag_id": f"{pipeline}_dag"}),
                ),
            )
    # a run under way: the latest run, not graded
    conn.execute(
        "insert into ops.pipeline_runs (pipeline_name, run_id, status, started_at)"
        " values ('retail', 'retail_now', 'running', %s)",
        (now,),
    )
    conn.execute(
        "insert into ops.processed_months (pipeline_name, month_key, year, month, status, input_rows, rows_written,"
        " error, processed_at, updated_at) values"
        " ('retail', '2011-01', 2011, 1, 'completed', 5000, 1234, null, %(t)s, %(t)s),"
        " ('retail', '2011-02', 2011, 2, 'failed', 4000, 0, %(e)s, %(t)s, %(t)s),"
        " ('retail', '2011-03', 2011, 3, 'in_progress', null, null, null, %(t)s, %(t)s)",
        {"t": now, "e": f"gold failed: postgresql://etl:{DB_PASSWORD}@db/warehouse"},
    )
    conn.execute(
        "insert into ops.processed_units (pipeline_name, unit_key, unit_kind, status, input_rows, rows_written)"
        " values ('weekly_country_sales', '2011-01-03', 'key', 'completed', 70, 12)"
    )
    conn.execute(
        "insert into ops.sync_jobs (service, entity, status, needs_attention, mode, phase, cursor, page_size, pages,"
        " items, api_cost, last_error, next_retry_at) values"
        " ('github', 'acme/api', 'RUNNING', false, 'full', 'walk', 'Y3Vyc29yOjEyMw==', 100, 1500, 150000, 1500,"
        "  null, null),"
        " ('github', 'acme/web', 'FINISHED', false, 'incremental', null, null, 100, 3, 250, 3, null, null),"
        " ('jira', 'ENG', 'PENDING', false, 'incremental', 'walk', null, 50, 20, 1000, 0, %(limited)s, %(retry)s),"
        " ('jira', 'OPS', 'FAILED', true, 'full', 'walk', null, 50, 2, 100, 0, %(refused)s, null)",
        {
            "limited": "rate limited: retry after 600 s",
            "retry": now + dt.timedelta(minutes=10),
            "refused": f"HTTP 401: Basic me@example.com:{ENV_PASSWORD} refused, token {GITHUB_TOKEN}",
        },
    )
    failed_at = now - dt.timedelta(hours=2)
    for offset, (from_status, to_status) in enumerate(
        [("RUNNING", "FAILED"), ("FAILED", "PENDING"), ("PENDING", "RUNNING"), ("RUNNING", "FINISHED")]
    ):
        conn.execute(
            "insert into ops.sync_transitions (service, entity, from_status, to_status, at)"
            " values ('github', 'acme/web', %s, %s, %s)",
            (from_status, to_status, failed_at + dt.timedelta(seconds=30 * offset)),
        )
    conn.execute(
        "insert into ops.file_loads (run_id, file_name, sha256, table_name, status, records, loaded, rejected,"
        " error_rate, snapshot, error, at) values"
        " ('files_1', 'students.txt', 'aa', 'students', 'loaded', 6, 6, 0, 0, 'students__20110101', null, %(t1)s),"
        " ('files_2', 'students.txt', 'bb', 'students', 'refused', 10, 0, 4, 0.4, null, %(e)s, %(t2)s)",
        {"t1": now - dt.timedelta(days=1), "t2": now, "e": "40% rejected (threshold 5%)"},
    )
    conn.execute(
        "insert into ops.file_snapshots (snapshot, table_name, taken_at, reason, row_count) values"
        " ('students__20110101', 'students', %(t1)s, 'load', 5),"
        " ('students__20101231', 'students', %(t0)s, 'load', 4)",
        {"t1": now - dt.timedelta(days=1), "t0": now - dt.timedelta(days=2)},
    )
    for n, (message, dag_id, task_id, run_id, map_index, try_number) in enumerate(ERROR_LOGS):
        conn.execute(
            "insert into ops.pipeline_logs (timestamp, level, message, pipeline_name, run_id, stage, dag_id, task_id,"
            " map_index, try_number) values (%s, 'ERROR', %s, 'retail', %s, 'day', %s, %s, %s, %s)",
            (now - dt.timedelta(minutes=10 - n), message, run_id, dag_id, task_id, map_index, try_number),
        )
    conn.execute(
        "insert into ops.pipeline_logs (timestamp, level, message, pipeline_name) values"
        " (%(t)s, 'WARNING', 'retrying: lock timeout', 'retail'), (%(t)s, 'INFO', 'day loaded', 'retail')",
        {"t": now},
    )
    maintenance = [
        ("health_check", "healthy", now - dt.timedelta(hours=1), {"postgres": True, "redis": True, "errors": []}),
        (
            "health_check",
            "unhealthy",
            now - dt.timedelta(minutes=5),
            {"postgres": True, "redis": False, "errors": [f"redis: auth failed for redis://:{DB_PASSWORD}@cache:6379"]},
        ),
        ("backup_critical_data", "success", now - dt.timedelta(hours=3), {"status": "success", "errors": []}),
        (
            "watchdog",
            "unhealthy",
            now - dt.timedelta(minutes=20),
            {
                "status": "unhealthy",
                "pipelines": {
                    "retail_daily": {"status": "unhealthy", "last_data_date": "2011-02-03", "days_behind": 3,
                                     "action": "catch_up_needed", "details": {"missing": ["2011-02-04"]}},
                    "files_nightly": {"status": "healthy", "last_data_date": None, "days_behind": 0,
                                      "action": "none", "details": {}},
                },
            },
        ),
    ]  # fmt: skip
    for job, status, finished, result in maintenance:
        conn.execute(
            "insert into ops.maintenance_runs (job, run_id, status, started_at, finished_at, duration_ms, result)"
            " values (%s, %s, %s, %s, %s, 42, %s)",
            (job, f"{job}_run", status, finished - dt.timedelta(seconds=1), finished, json.dumps(result)),
        )
    conn.execute(
        "insert into ops.alert_state (alert_key, firing, consecutive_failures, first_failed_at, fired_at, last_message)"
        " values ('health:redis', true, 2, %(t)s, %(t)s, 'redis down'), ('health:disk', false, 0, null, null, null)",
        {"t": now - dt.timedelta(minutes=35)},
    )
    for n, (month, check, severity, passed, published, details) in enumerate(GOLD_CHECKS):
        conn.execute(
            "insert into ops.check_results (pipeline_name, target, unit_key, check_name, severity, passed,"
            " published, details, run_id, checked_at) values ('retail', 'gold.fact_sales_monthly', %s, %s, %s, %s,"
            " %s, %s, %s, %s)",
            (month, check, severity, passed, published, json.dumps(details), f"retail_run_{n:02d}",
             now - dt.timedelta(minutes=50 - n)),
        )  # fmt: skip
    return now


def expected_window(conn: psycopg.Connection, pipeline: str, window: int = 10) -> list[dict]:
    """A pipeline's latest finished runs, read independently of the dashboard's SQL."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select * from ops.pipeline_runs where pipeline_name = %s and status <> 'running'"
            " order by started_at desc limit %s",
            (pipeline, window),
        ).fetchall()
