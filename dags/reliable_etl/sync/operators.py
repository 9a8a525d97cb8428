"""Airflow operators for the syncs: one entity per task instance, freed while rate limited.

Each operator runs ``reliable_etl.sync.runner.sync_entity`` (the code path of ``etl sync``): it resumes
the entity's pass from its checkpoint, or starts the next one. A rate limit that asks for a
long wait leaves the job PENDING with ``next_retry_at`` and defers the task on a
``DateTimeTrigger`` until then, so no worker slot is held while waiting. A corrupt page or a
refused request fails the task without retries: it needs a person (``etl sync resume``); so
does a missing or malformed Connection (the error names it and the variable that defines it).
``configured_entities`` gives the DAG its lists, and skips with the settings to fill when empty.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from reliable_etl.operators import EtlOperator, truthy

if TYPE_CHECKING:
    from airflow.sdk import Context

    from reliable_etl.sync.runner import ServiceSync

log = logging.getLogger(__name__)

# service -> (what is synced, the variable that lists it, the DAG Param that replaces it for a run)
ENTITY_SETTINGS = {
    "github": ("GitHub repositories", "ETL_GITHUB_REPOS", "repos"),
    "jira": ("Jira projects", "ETL_JIRA_PROJECTS", "projects"),
}


def configured_entities(service: str, entities: list[str] | None) -> list[str]:
    """The run's entities, each once; none: a WARNING and a skip that names the settings to fill."""
    chosen = sorted(set(entities or []))
    if not chosen:
        what, variable, param = ENTITY_SETTINGS[service]
        message = f"no {what} to sync: set {variable} (comma-separated) or trigger with the Param `{param}`"
        log.warning("%s", message)
        raise AirflowSkipException(message)
    return chosen


class _SyncOperator(EtlOperator):
    """Sync one entity of a service; subclasses name it and build the service's sync.

    Its ledger row in ``ops.pipeline_runs`` is the entity's: ``<run id>:<entity>``.
    """

    ui_color = "#e8f4fd"
    pipeline_name: str

    def __init__(self, *, full_refresh: bool = False, **kwargs: Any) -> None:
        super().__init__(pipeline=self.pipeline_name, **kwargs)
        self.full_refresh = full_refresh

    @property
    def entity(self) -> str:
        raise NotImplementedError

    def make_sync(self, run_id: str) -> ServiceSync:
        raise NotImplementedError

    def ledger_run_id(self, context: Context) -> str:
        return f"{context['run_id']}:{self.entity}"

    def run(self, context: Context) -> dict:
        return self._sync(context)

    def execute_complete(self, context: Context, event: Any = None) -> dict:
        """Back from the rate-limit wait: resume from the checkpoint."""
        return self._in_ledger(context, lambda: self._sync(context))

    def _sync(self, context: Context) -> dict:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from reliable_etl.sync.errors import ApiRequestError, ConfigurationError, CorruptPageError
        from reliable_etl.sync.runner import sync_entity

        run_id = context["run_id"]
        try:
            result = sync_entity(
                self.make_sync(run_id), self.entity, run_id=run_id, full_refresh=truthy(self.full_refresh)
            )
        except (ApiRequestError, ConfigurationError, CorruptPageError) as exc:  # retrying cannot help
            raise AirflowFailException(str(exc)) from exc
        if result.outcome == "waiting" and result.next_retry_at:
            self.log.info("%s: rate limited; deferring until %s", self.entity, result.next_retry_at)
            self.defer(trigger=DateTimeTrigger(moment=result.next_retry_at), method_name="execute_complete")
        if result.outcome == "paused":
            raise AirflowSkipException(f"{self.entity} is paused: `etl sync resume` to go on")
        return result.as_dict()


class GitHubSyncOperator(_SyncOperator):
    """Sync one repository's pull requests (cursor-based; see reliable_etl.sync.github).

    :param repo: ``OWNER/NAME`` (templated).
    :param full_refresh: reprocess everything, idempotently (templated).
    :param github_conn_id: the Connection holding the token (templated).
    :return: the entity's summary: outcome, pages, items, skipped, API cost, counts (XCom).
    """

    pipeline_name = "github_sync"
    template_fields: Sequence[str] = (*EtlOperator.template_fields, "repo", "full_refresh", "github_conn_id")

    def __init__(
        self, *, repo: str, full_refresh: bool = False, github_conn_id: str = "github_default", **kwargs: Any
    ) -> None:
        super().__init__(full_refresh=full_refresh, **kwargs)
        self.repo = repo
        self.github_conn_id = github_conn_id

    @property
    def entity(self) -> str:
        return self.repo

    def make_sync(self, run_id: str) -> ServiceSync:
        from reliable_etl.sync.github import GitHubSync

        return GitHubSync(run_id=run_id, conn_id=self.github_conn_id)


class JiraSyncOperator(_SyncOperator):
    """Sync one project's issues (checkpoint-based; see reliable_etl.sync.jira).

    :param project: the project key (templated).
    :param full_refresh: reprocess everything, idempotently (templated).
    :param jira_conn_id: the Connection of the Jira site (templated).
    :return: the entity's summary: outcome, pages, items, skipped, API cost, counts (XCom).
    """

    pipeline_name = "jira_sync"
    template_fields: Sequence[str] = (*EtlOperator.template_fields, "project", "full_refresh", "jira_conn_id")

    def __init__(
        self, *, project: str, full_refresh: bool = False, jira_conn_id: str = "jira_default", **kwargs: Any
    ) -> None:
        super().__init__(full_refresh=full_refresh, **kwargs)
        self.project = project
        self.jira_conn_id = jira_conn_id

    @property
    def entity(self) -> str:
        return self.project

    def make_sync(self, run_id: str) -> ServiceSync:
        from reliable_etl.sync.jira import JiraSync

        return JiraSync(run_id=run_id, conn_id=self.jira_conn_id)
