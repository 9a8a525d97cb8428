"""
### engineering_sync: Jira issues and GitHub pull requests into PostgreSQL, hourly

One mapped task per repository (`sync_github`, pool `github_api`) and per project
(`sync_jira`, pool `jira_api`): the pools bound concurrent API calls per service across
every worker. Each task resumes its entity's pass from the checkpoint in `ops.sync_jobs`
(a crash re-fetches at most one page) or starts the next incremental pass:

- **GitHub**: pull requests newest-update-first; each page's rows and its `endCursor` in one
  transaction; stop at the watermark; re-check pull requests still open here.
- **Jira**: bounded JQL in epoch milliseconds (overlap window, upper bound frozen at
  now minus a safety lag); each page is a fresh query from the `(updated, id)` keyset.
- Both: an id-only sweep soft-deletes what the API no longer returns (daily, and on full
  passes); the API's count is compared with ours after every pass.

A long rate-limit wait defers the task until `next_retry_at` (no worker held). A corrupt
page fails the task for a person: fix, then `etl sync resume SERVICE ENTITY`.
Params: `full_refresh` reprocesses everything (idempotent); `repos` / `projects` replace the
configured lists (`ETL_GITHUB_REPOS`, `ETL_JIRA_PROJECTS`) for this run; an empty one skips its
service with a warning. A missing or malformed Connection fails its task at once, no retries.
Progress: `etl sync status` or the view `ops.sync_progress`.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from reliable_etl.config import settings
from reliable_etl.sync.operators import GitHubSyncOperator, JiraSyncOperator, configured_entities
from reliable_etl.tasks import task_defaults

cfg = settings()


@dag(
    schedule=CronTriggerTimetable("0 * * * *", timezone="UTC"),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    description="Hourly: Jira issues and GitHub pull requests into PostgreSQL, resumable page by page",
    doc_md=__doc__,
    tags=["engineering", "sync", "hourly"],
    default_args=task_defaults(),
    params={
        "full_refresh": Param(
            False, type="boolean", title="Full refresh", description="reprocess everything (idempotent)"
        ),
        "repos": Param(
            list(cfg.github_repos),
            type="array",
            items={"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$"},
            title="GitHub repositories",
            description="OWNER/NAME; default ETL_GITHUB_REPOS; empty skips GitHub",
        ),
        "projects": Param(
            list(cfg.jira_projects),
            type="array",
            items={"type": "string", "pattern": r"^[A-Z][A-Z0-9_]*$"},
            title="Jira projects",
            description="project keys; default ETL_JIRA_PROJECTS; empty skips Jira",
        ),
    },
)
def engineering_sync() -> None:
    @task
    def ensure_schema() -> list[str]:
        from reliable_etl.ops import init_schema

        return init_schema()

    @task
    def repos(params=None) -> list[str]:
        return configured_entities("github", params["repos"])

    @task
    def projects(params=None) -> list[str]:
        return configured_entities("jira", params["projects"])

    schema = ensure_schema()
    github = GitHubSyncOperator.partial(
        task_id="sync_github",
        pool="github_api",
        full_refresh="{{ params.full_refresh }}",
        github_conn_id=cfg.github_conn_id,
    ).expand(repo=repos())
    jira = JiraSyncOperator.partial(
        task_id="sync_jira", pool="jira_api", full_refresh="{{ params.full_refresh }}", jira_conn_id=cfg.jira_conn_id
    ).expand(project=projects())
    schema >> [github, jira]


engineering_sync()
