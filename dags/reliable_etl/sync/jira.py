"""Jira issues into sync.jira_issues, checkpointed per project on an ``(updated, id)`` keyset.

A walk freezes its bounds when it starts: the upper one at ``now - safety lag`` (Jira's
search is eventually consistent), the lower one at the watermark minus an overlap window,
both in epoch milliseconds (JQL date literals would be read in the API user's time zone).
Every page is a fresh query from the keyset of the last committed page:

    project = "ENG" AND updated >= <keyset ms> AND updated <= <upper ms>
        AND id NOT IN (<ids already read at that very millisecond>) ORDER BY updated ASC, key ASC

so an issue updated during the walk (it leaves the window, to be read by the next pass)
never shifts the pages the way offset or token paging would, and issues sharing the
boundary millisecond are neither skipped nor read twice. Each page is upserted with its
keyset in ONE transaction.

Jira refuses (400) a query that names by id or key an issue that no longer exists (deleted,
or moved where we cannot see it). Three queries name issues: the walk's ``id NOT IN``, the
recheck's ``id IN`` and the sweep's ``key >`` cursor. Each takes the refusal as news that
those issues are gone: it asks again without them, and they are soft-deleted in the same
transaction as the page. Nothing is asked twice when nothing was deleted. Cloud's search
returns only what ``fields`` names, so every query asks for ``key`` with the fields.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from reliable_etl import db, failpoints
from reliable_etl.config import settings
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.sync.errors import ApiRequestError, CorruptPageError, MissingIssuesError, RecordError
from reliable_etl.sync.hooks.jira import JiraHook, SearchPage
from reliable_etl.sync.jobs import EntityRun, Job, config_hash, utcnow
from reliable_etl.sync.runner import Progress, ServiceSync, SweepPage, timestamp

PIPELINE = "jira_sync"
PROJECT = re.compile(r"^[A-Z][A-Z0-9_]{0,254}$")
SWEEP_PAGE_SIZE = 1000
SWEEP_CURSOR_KEYS = 10  # the sweep's cursor: the page's last keys, so a deleted last one has stand-ins
T = TypeVar("T")


def epoch_ms(value: dt.datetime) -> int:
    return int(value.timestamp() * 1000)


def _name(value: object, key: str = "name") -> str | None:
    return value.get(key) if isinstance(value, dict) else None


def issue_row(project: str, issue: dict) -> dict:
    """A Jira issue as a row of sync.jira_issues, or RecordError."""
    try:
        fields = issue["fields"]
        status = fields.get("status")
        return {
            "id": int(issue["id"]),
            "key": str(issue["key"]),
            "project_key": project,
            "summary": fields.get("summary"),
            "status": _name(status),
            "status_category": _name(status.get("statusCategory") if isinstance(status, dict) else None, "key"),
            "issue_type": _name(fields.get("issuetype")),
            "priority": _name(fields.get("priority")),
            "assignee": _name(fields.get("assignee"), "displayName"),
            "reporter": _name(fields.get("reporter"), "displayName"),
            "created_at": timestamp(fields["created"]),
            "updated_at": timestamp(fields["updated"]),
            "resolved_at": timestamp(fields.get("resolutiondate"), optional=True),
            "labels": [str(label) for label in fields.get("labels") or []],
            "fields": fields,
        }
    except RecordError as exc:
        raise RecordError(f"issue {issue.get('key', '?')}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RecordError(f"issue {issue.get('key', '?')}: bad or missing {exc}") from None


class JiraSync(ServiceSync):
    """The phases of a project's pass (see reliable_etl.sync.runner)."""

    service = "jira"
    label = "Jira"
    pipeline = PIPELINE
    table = "jira_issues"

    def __init__(
        self,
        *,
        run_id: str,
        conn_id: str | None = None,
        log: PipelineLogger | None = None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(run_id=run_id, log=log, progress=progress)
        cfg = settings()
        self.hook = JiraHook(conn_id)
        self.fields = list(cfg.jira_fields)
        self.jql_filter = cfg.jira_jql
        self.overlap = dt.timedelta(seconds=cfg.jira_overlap_seconds)
        self.safety_lag = dt.timedelta(seconds=cfg.jira_safety_lag_seconds)

    def config_hash(self) -> str:
        return config_hash(jql=self.jql_filter, fields=sorted(self.fields))

    @property
    def asked_fields(self) -> list[str]:
        """The configured fields and ``key``: Cloud returns an issue's key only when asked for it."""
        return self.fields if "key" in self.fields else [*self.fields, "key"]

    def without_missing(self, entity: str, ask: Callable[[list[str]], T], named: list[str]) -> tuple[T, list[str]]:
        """``ask(named)``; while Jira refuses some of ``named`` as issues that do not exist, without them.

        Returns (the answer, the names refused). A refusal of anything else is raised.
        """
        named, refused = list(named), []
        while True:
            try:
                return ask(named), refused
            except MissingIssuesError as exc:
                missing = {name.casefold() for name in exc.missing}
                gone = [name for name in named if name.casefold() in missing]
                if not gone and self.jql_filter:  # named by the configured filter, not by the sync
                    raise ApiRequestError(f"{exc}: check ETL_JIRA_JQL ({self.jql_filter!r})") from exc
                if not gone:
                    raise
                self.log.warning("%s: Jira no longer has %s (deleted, or out of sight)", entity, ", ".join(gone))
                refused += gone
                named = [name for name in named if name not in gone]

    def validate_entity(self, entity: str) -> None:
        if not PROJECT.match(entity):
            raise ValueError(f"{entity!r} is not a Jira project key (A-Z, 0-9, _)")

    def row(self, entity: str, record: dict) -> dict:
        return issue_row(entity, record)

    def record_number(self, record: dict) -> int:
        return int(record["id"]) if str(record.get("id", "")).isdigit() else 0

    def scope(self, project: str) -> list[str]:
        """The JQL restriction every query of the project starts with."""
        clauses = [f'project = "{project}"']
        if self.jql_filter:
            clauses.append(f"({self.jql_filter})")
        return clauses

    def page_jql(self, project: str, job: Job) -> str:
        clauses = self.scope(project)
        lower = job.keyset_ts or job.walk_lower
        if lower is not None:
            clauses.append(f"updated >= {epoch_ms(lower)}")
        clauses.append(f"updated <= {epoch_ms(job.walk_upper)}")  # type: ignore[arg-type]
        if job.keyset_ids:
            clauses.append(f"id NOT IN ({', '.join(job.keyset_ids)})")
        return " AND ".join(clauses) + " ORDER BY updated ASC, key ASC"

    def walk(self, run: EntityRun) -> None:
        if run.job.walk_upper is None:  # freeze this walk's bounds before its first page
            job = run.job
            lower = job.watermark_ts - self.overlap if job.mode == "incremental" and job.watermark_ts else None
            run.commit(
                lambda conn: None, replace(job, walk_lower=lower, walk_upper=utcnow() - self.safety_lag), point="bounds"
            )
        while True:
            job = run.job
            sent = self.hook.requests_sent
            (page, size), gone = self.without_missing(
                run.entity,
                lambda ids, job=job: self.hook.search_page(
                    self.page_jql(run.entity, replace(job, keyset_ids=ids)),
                    fields=self.asked_fields,
                    max_results=job.page_size,
                ),
                job.keyset_ids,
            )
            failpoints.reach("jira.page.fetched")
            rows, rejects = self.split(run.entity, page.issues)
            done = page.is_last or not page.issues
            keyset_ts, keyset_ids = job.keyset_ts, [i for i in job.keyset_ids if i not in gone]
            if rows:
                last = max(r["updated_at"] for r in rows)
                at_last = [str(r["id"]) for r in rows if r["updated_at"] == last]
                keyset_ids = sorted({*keyset_ids, *at_last}, key=int) if last == keyset_ts else at_last
                keyset_ts = last
            elif not done:
                raise CorruptPageError(f"Jira {run.entity}: a page of {len(page.issues)} issues, none readable")
            checkpoint = replace(
                job,
                keyset_ts=keyset_ts,
                keyset_ids=keyset_ids,
                walk_top_ts=keyset_ts,
                walk_top_id=max(keyset_ids, key=int) if keyset_ids else job.walk_top_id,
                page_size=size,
                pages=job.pages + 1,
                items=job.items + len(rows),
                skipped=job.skipped + len(rejects),
                warnings=job.warnings + bool(rejects),
                api_cost=job.api_cost + self.hook.requests_sent - sent,
                total_processed=job.total_processed + len(rows),
                api_count=page.total if page.total is not None else job.api_count,
            )
            if done:
                checkpoint = replace(checkpoint, phase=self.next_phase(run, "walk"))

            def write(conn, rows=rows, rejects=rejects, gone=gone) -> None:
                self.write_page(conn, run, rows, rejects)
                if gone:  # read at the keyset's millisecond, deleted since
                    db.run_sql(conn, "sync/soft_delete_jira_issues", {"ids": gone})

            run.commit(write, checkpoint)
            self.report(run, f"page {run.job.pages}: {len(rows)} issues" + (f", {len(gone)} gone" if gone else ""))
            if done:
                return

    def fetch_by_ids(self, entity: str, ids: list[str]) -> tuple[list[dict], list[str], int, int | None]:
        """Issues by id; those Jira refuses as not existing, and those it does not return, are gone."""

        def ask(named: list[str]) -> list[dict]:
            if not named:  # every one refused
                return []
            jql = " AND ".join([*self.scope(entity), f"id IN ({', '.join(named)})"]) + " ORDER BY key ASC"
            return self.hook.search_page(jql, fields=self.asked_fields, max_results=len(named))[0].issues

        sent = self.hook.requests_sent
        issues, _ = self.without_missing(entity, ask, ids)
        found = {str(issue.get("id")) for issue in issues}
        return issues, [i for i in ids if i not in found], self.hook.requests_sent - sent, None

    def sweep_page(self, entity: str, cursor: str | None) -> SweepPage:
        """A keyset on the issue key: a deletion during the sweep shifts no page.

        The cursor holds the page's last keys with their ids, newest first (``ENG-50:10050
        ENG-49:10049 ...``). When Jira refuses the newest as deleted, the next one bounds the
        page and the refused issue is gone; with none left the listing starts again from the
        top (the ids already listed stay listed).
        """
        ids_of = dict(item.partition(":")[::2] for item in (cursor or "").split())

        def ask(keys: list[str]) -> SearchPage:
            clauses = self.scope(entity) + ([f'key > "{keys[0]}"'] if keys else [])
            jql = " AND ".join(clauses) + " ORDER BY key ASC"
            return self.hook.search(jql, fields=["id", "key"], max_results=SWEEP_PAGE_SIZE)

        sent = self.hook.requests_sent
        page, refused = self.without_missing(entity, ask, list(ids_of))
        ids = [str(issue["id"]) for issue in page.issues if issue.get("id")]
        tail = " ".join(f"{issue['key']}:{issue['id']}" for issue in reversed(page.issues[-SWEEP_CURSOR_KEYS:]))
        following = None if page.is_last or not page.issues else tail
        gone = [ids_of[key] for key in refused if ids_of[key]]  # a cursor stored before ids were kept has none
        return SweepPage(ids, following, self.hook.requests_sent - sent, None, gone=gone)

    def count_remote(self, run: EntityRun) -> tuple[int, int, int | None]:
        """Issues created up to the walk's upper bound: later ones come with the next pass."""
        upper = run.job.walk_upper or utcnow()
        return self.hook.count(" AND ".join([*self.scope(run.entity), f"created <= {epoch_ms(upper)}"])), 1, None

    def count_local(self, run: EntityRun) -> int:
        params = {"project": run.entity, "upper": run.job.walk_upper or utcnow()}
        return db.run_sql(run.conn, "sync/count_jira_issues", params).fetchone()[0]
