"""GitHub pull requests into sync.github_pull_requests, cursor-based and resumable mid-walk.

The walk reads ``pullRequests(orderBy: UPDATED_AT DESC)`` page by page; each page's rows are
upserted with its ``endCursor`` in ONE transaction. A full pass walks to the end; an
incremental one stops at the first pull request updated before the watermark (ties at the
watermark's second are read again: upserts make that free). The watermark of the next pass
is the newest pull request seen when this walk began. A stored cursor GitHub rejects
restarts the walk from the top, bounded by the watermark.
"""

from __future__ import annotations

import re
from dataclasses import replace

from reliable_etl import db, failpoints
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.sync.errors import InvalidCursorError, RecordError
from reliable_etl.sync.hooks.github import GitHubHook, load_query
from reliable_etl.sync.jobs import EntityRun, config_hash
from reliable_etl.sync.runner import RECHECK_BATCH, Progress, ServiceSync, SweepPage, timestamp

PIPELINE = "github_sync"
REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
STATES = {"OPEN", "CLOSED", "MERGED"}


def pull_request_row(repo: str, node: dict) -> dict:
    """A GraphQL pull request node as a row of sync.github_pull_requests, or RecordError."""
    try:
        state = node["state"]
        if state not in STATES:
            raise RecordError(f"unknown state {state!r}")
        if not node["id"]:
            raise RecordError("empty id")
        return {
            "id": str(node["id"]),
            "database_id": int(node["fullDatabaseId"]),
            "repo": repo,
            "number": int(node["number"]),
            "title": str(node["title"]),
            "state": state,
            "is_draft": bool(node["isDraft"]),
            "author_login": (node.get("author") or {}).get("login"),
            "created_at": timestamp(node["createdAt"]),
            "updated_at": timestamp(node["updatedAt"]),
            "closed_at": timestamp(node.get("closedAt"), optional=True),
            "merged_at": timestamp(node.get("mergedAt"), optional=True),
            "additions": int(node["additions"]),
            "deletions": int(node["deletions"]),
            "changed_files": int(node["changedFiles"]),
            "base_ref": str(node["baseRefName"]),
            "head_ref": str(node["headRefName"]),
            "url": str(node["url"]),
            "labels": [str(label["name"]) for label in (node.get("labels") or {}).get("nodes") or []],
        }
    except RecordError as exc:
        raise RecordError(f"pull request #{node.get('number', '?')}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"pull request #{node.get('number', '?')}: bad or missing {exc}") from None


class GitHubSync(ServiceSync):
    """The phases of a repository's pass (see reliable_etl.sync.runner)."""

    service = "github"
    label = "GitHub"
    pipeline = PIPELINE
    table = "github_pull_requests"
    rechecks_incremental = True

    def __init__(
        self,
        *,
        run_id: str,
        conn_id: str | None = None,
        log: PipelineLogger | None = None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(run_id=run_id, log=log, progress=progress)
        self.hook = GitHubHook(conn_id)

    def config_hash(self) -> str:
        return config_hash(query=load_query("pull_requests_page"))

    def validate_entity(self, entity: str) -> None:
        if not REPO.match(entity):
            raise ValueError(f"{entity!r} is not a repository as OWNER/NAME")

    def row(self, entity: str, record: dict) -> dict:
        return pull_request_row(entity, record)

    def record_number(self, record: dict) -> int:
        return int(record["number"]) if str(record.get("number", "")).isdigit() else 0

    def page_size(self) -> int:
        return min(super().page_size(), self.hook.max_page_size)

    def walk(self, run: EntityRun) -> None:
        while True:
            job = run.job
            try:
                page, size = self.hook.pull_requests_page(run.entity, first=job.page_size, after=job.cursor)
            except InvalidCursorError as exc:
                if job.cursor is None:
                    raise
                self.log.warning("%s: %s; restarting the walk from the top, bounded by the watermark", run.entity, exc)
                run.commit(lambda conn: None, replace(job, cursor=None, warnings=job.warnings + 1), point="cursor")
                continue
            failpoints.reach("github.page.fetched")
            rows, rejects = self.split(run.entity, page.nodes)
            done = not page.has_next
            if job.mode == "incremental" and job.watermark_ts is not None:
                fresh = [r for r in rows if r["updated_at"] >= job.watermark_ts]
                done = done or len(fresh) < len(rows)  # newest first: the rest is older still
                rows = fresh
            checkpoint = replace(
                job,
                cursor=None if done else page.end_cursor,
                page_size=size,
                pages=job.pages + 1,
                items=job.items + len(rows),
                skipped=job.skipped + len(rejects),
                warnings=job.warnings + bool(rejects),
                api_cost=job.api_cost + page.rate.cost,
                rate_remaining=page.rate.remaining,
                total_processed=job.total_processed + len(rows),
                api_count=page.total_count,
            )
            if job.walk_top_ts is None and rows:  # the newest pull request: the next watermark
                top = max(rows, key=lambda r: (r["updated_at"], r["database_id"]))
                checkpoint = replace(checkpoint, walk_top_ts=top["updated_at"], walk_top_id=str(top["database_id"]))
            if done:
                checkpoint = replace(checkpoint, phase=self.next_phase(run, "walk"))
            run.commit(lambda conn, rows=rows, rejects=rejects: self.write_page(conn, run, rows, rejects), checkpoint)
            self.report(run, f"page {run.job.pages}: {len(rows)} pull requests")
            if done:
                return

    def stale_ids(self, run: EntityRun) -> list[str]:
        """Pull requests still open here and older than the watermark: edits that moved no timestamp."""
        params = {
            "repo": run.entity,
            "before": run.job.watermark_ts,
            "after": run.job.cursor,
            "batch_size": RECHECK_BATCH,
        }
        return [r[0] for r in db.run_sql(run.conn, "sync/select_open_pull_requests", params)]

    def fetch_by_ids(self, entity: str, ids: list[str]) -> tuple[list[dict], list[str], int, int | None]:
        nodes, rate = self.hook.pull_requests_by_id(ids)
        found = [node for node in nodes.values() if node is not None]
        return found, [i for i, node in nodes.items() if node is None], rate.cost, rate.remaining

    def sweep_page(self, entity: str, cursor: str | None) -> SweepPage:
        page = self.hook.pull_request_ids_page(entity, first=100, after=cursor)
        ids = [str(node["id"]) for node in page.nodes if node.get("id")]
        return SweepPage(ids, page.end_cursor if page.has_next else None, page.rate.cost, page.rate.remaining)

    def count_remote(self, run: EntityRun) -> tuple[int, int, int | None]:
        page = self.hook.pull_request_ids_page(run.entity, first=1, after=None)
        return page.total_count, page.rate.cost, page.rate.remaining

    def count_local(self, run: EntityRun) -> int:
        return db.run_sql(run.conn, "sync/count_pull_requests", {"repo": run.entity}).fetchone()[0]
