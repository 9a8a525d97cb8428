"""Helpers of the sync tests: a fake Jira and GitHub (``reliable_etl_dev.fakes``), never a mock.

``fake_connections`` and ``SYNC_TEST_SETTINGS`` point the sync at a fake server; ``github_truth`` /
``jira_truth`` read what the fake holds, independently of the sync's own mapping, and
``github_rows`` / ``jira_rows`` what the sync wrote, in the same shape. The ``fake`` and
``sync_env`` fixtures (tests/conftest.py) are built on them.
"""

from __future__ import annotations

import json

import psycopg

from reliable_etl_dev.testing import SHARED

GITHUB_SCHEMA = SHARED / "fixtures" / "github" / "schema.graphql"
SYNC_TABLES = (
    "sync.github_pull_requests, sync.jira_issues, ops.sync_jobs, ops.sync_transitions,"
    " ops.sync_sweep_ids, ops.rejected_rows, ops.pipeline_runs"
)


def fake_connections(url: str, jira_mode: str = "cloud") -> dict[str, str]:
    """The two Connections pointing at a fake server, as environment variables."""
    return {
        "AIRFLOW_CONN_GITHUB_DEFAULT": json.dumps({"conn_type": "http", "host": url, "password": "fake-token"}),
        "AIRFLOW_CONN_JIRA_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": url,
                "login": "me@example.com",
                "password": "fake-token",
                "extra": {"deployment": jira_mode},
            }
        ),
    }


# Fast and deterministic: retries in milliseconds, short HTTP timeouts, no Jira safety lag.
SYNC_TEST_SETTINGS = {
    "ETL_RETRY_WAIT_MIN": "0.001",
    "ETL_RETRY_WAIT_MAX": "0.01",
    "ETL_SYNC_HTTP_TIMEOUT": "1",
    "ETL_SYNC_HTTP_ATTEMPTS": "4",
    "ETL_SYNC_MAX_SLEEP_SECONDS": "1.5",
    "ETL_JIRA_SAFETY_LAG_SECONDS": "0",
    "ETL_JIRA_OVERLAP_SECONDS": "300",
    "ETL_SYNC_PAGE_SIZE": "50",
}


def _iso(value: str | None):
    import datetime as dt

    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def github_truth(fake, repo: str) -> list[dict]:
    """The fake's pull requests, read independently of the sync's own mapping."""
    return [
        {
            "id": pr["id"],
            "number": pr["number"],
            "title": pr["title"],
            "state": pr["state"],
            "is_draft": pr["isDraft"],
            "author_login": (pr["author"] or {}).get("login"),
            "created_at": _iso(pr["createdAt"]),
            "updated_at": _iso(pr["updatedAt"]),
            "closed_at": _iso(pr["closedAt"]),
            "merged_at": _iso(pr["mergedAt"]),
            "additions": pr["additions"],
            "deletions": pr["deletions"],
            "changed_files": pr["changedFiles"],
            "url": pr["url"],
            "labels": [label["name"] for label in pr["labels"]["nodes"]],
        }
        for pr in fake.github.pull_requests(repo)
    ]


def github_rows(conn: psycopg.Connection, repo: str) -> list[dict]:
    """Our live pull requests of a repository, in the shape of github_truth."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select id, number, title, state, is_draft, author_login, created_at, updated_at, closed_at,"
            " merged_at, additions, deletions, changed_files, url, labels"
            " from sync.github_pull_requests where repo = %s and deleted_at is null order by number",
            (repo,),
        ).fetchall()


def jira_truth(fake, project: str) -> list[dict]:
    """The fake's issues of a project: id, key, and the synced fields as delivered."""
    from reliable_etl.config import settings

    wanted = settings().jira_fields
    return [
        {
            "id": int(issue["id"]),
            "key": issue["key"],
            "updated_at": _jira_ts(issue["fields"]["updated"]),
            "fields": {name: issue["fields"].get(name) for name in wanted if name in issue["fields"]},
        }
        for issue in sorted(fake.jira.issues(project), key=lambda i: int(i["id"]))
    ]


def _jira_ts(value: str):
    import datetime as dt

    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def jira_rows(conn: psycopg.Connection, project: str) -> list[dict]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select id, key, updated_at, fields from sync.jira_issues"
            " where project_key = %s and deleted_at is null order by id",
            (project,),
        ).fetchall()


def sync_job(conn: psycopg.Connection, service: str, entity: str) -> dict:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select * from ops.sync_jobs where service = %s and entity = %s", (service, entity)
        ).fetchone()


def transitions(conn: psycopg.Connection, service: str, entity: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select from_status, to_status from ops.sync_transitions where service = %s and entity = %s order by id",
        (service, entity),
    ).fetchall()
    return [tuple(r) for r in rows]


def refetched_pages(fake, service: str, entity: str) -> int:
    """How many page requests asked for a page that had been asked for before."""
    keys = [repr(r.key) for r in fake.page_requests(service, entity)]
    return len(keys) - len(set(keys))
