"""Configuration the syncs cannot work without: Connections and the lists of entities.

A missing or malformed Connection fails at once (AirflowFailException, CLI exit 2) with one
line naming the Connection and the variable that defines it; an empty list of entities skips
its service with a warning naming the settings to fill.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from reliable_etl.cli import main
from reliable_etl.sync.errors import ConfigurationError
from reliable_etl.sync.hooks.github import GitHubHook
from reliable_etl.sync.hooks.jira import JiraHook
from reliable_etl.sync.operators import GitHubSyncOperator, JiraSyncOperator, configured_entities

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
TOKEN = "ghp_" + "s3cr3t" * 6


def connection(etl_env, conn_id: str, value: dict | None) -> None:
    """Define (or, with None, remove) the Connection ``conn_id`` as an AIRFLOW_CONN_* variable."""
    from reliable_etl.config import settings

    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    if value is None:
        etl_env.delenv(name, raising=False)
    else:
        etl_env.setenv(name, json.dumps({"conn_type": "http", **value}))
    settings.cache_clear()


@pytest.mark.parametrize(
    ("hook", "conn_id", "variable", "setting"),
    [
        (GitHubHook, "github_default", "AIRFLOW_CONN_GITHUB_DEFAULT", "ETL_GITHUB_CONN_ID"),
        (JiraHook, "jira_default", "AIRFLOW_CONN_JIRA_DEFAULT", "ETL_JIRA_CONN_ID"),
        (GitHubHook, "gh_other", "AIRFLOW_CONN_GH_OTHER", "ETL_GITHUB_CONN_ID"),
    ],
)
def test_a_missing_connection_names_itself_and_the_variables(etl_env, hook, conn_id, variable, setting):
    connection(etl_env, conn_id, None)

    with pytest.raises(ConfigurationError) as exc_info:
        hook(conn_id).check_connection()

    message = str(exc_info.value)
    assert f"Connection {conn_id!r} is not defined" in message
    assert variable in message
    assert setting in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("hook", "value", "problem"),
    [
        (GitHubHook, {"host": "https://api.github.com"}, "has no password (the GitHub token)"),
        (GitHubHook, {"password": TOKEN, "extra": "{not json"}, "has an extra that is not a JSON object"),
        (GitHubHook, {"password": TOKEN, "extra": "[1, 2]"}, "has an extra that is not a JSON object"),
        (JiraHook, {"login": "me@x.io", "password": TOKEN}, "has no host"),
        (JiraHook, {"host": "https://x.atlassian.net", "password": TOKEN}, "has no login"),
        (JiraHook, {"host": "https://x.atlassian.net", "login": "me@x.io"}, "has no password"),
        (JiraHook, {"host": "https://j.x.io", "extra": {"auth": "bearer"}}, "has no password"),
        (JiraHook, {"host": "https://j.x.io", "password": TOKEN, "extra": {"auth": "oauth"}}, "has extra auth 'oauth'"),
        (
            JiraHook,
            {"host": "https://j.x.io", "login": "me", "password": TOKEN, "extra": {"deployment": "dc"}},
            "has extra deployment 'dc', not 'cloud' or 'server'",
        ),
    ],
)
def test_a_malformed_connection_says_what_is_wrong_without_its_secret(etl_env, hook, value, problem):
    connection(etl_env, "sync_x", value)

    with pytest.raises(ConfigurationError) as exc_info:
        hook("sync_x").check_connection()

    message = str(exc_info.value)
    assert f"Connection 'sync_x' {problem}" in message
    assert "AIRFLOW_CONN_SYNC_X" in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("hook", "value"),
    [
        (GitHubHook, {"password": TOKEN}),  # no host: api.github.com
        (JiraHook, {"host": "https://x.atlassian.net", "login": "me@x.io", "password": TOKEN}),
        (JiraHook, {"host": "https://j.x.io", "password": TOKEN, "extra": {"auth": "bearer", "deployment": "server"}}),
    ],
)
def test_a_complete_connection_passes(etl_env, hook, value):
    connection(etl_env, "sync_x", value)
    hook("sync_x").check_connection()


@pytest.mark.parametrize("operator", [GitHubSyncOperator, JiraSyncOperator])
def test_the_operator_fails_at_once_without_touching_the_job(sync_env, conn, etl_env, operator):
    """AirflowFailException: no retries for what only a person can fix; no job row is written."""
    entity = {"repo": "acme/api"} if operator is GitHubSyncOperator else {"project": "ENG"}
    conn_id = "github_default" if operator is GitHubSyncOperator else "jira_default"
    connection(etl_env, conn_id, None)
    task = operator(task_id="sync", **entity)

    with pytest.raises(AirflowFailException, match=f"Connection '{conn_id}' is not defined: .*AIRFLOW_CONN_"):
        task.execute({"run_id": "manual__config"})

    assert conn.execute("select count(*) from ops.sync_jobs").fetchone()[0] == 0
    assert sync_env.requests == []


def test_the_cli_prints_one_line_and_exits_2(sync_env, etl_env, capsys):
    connection(etl_env, "github_default", None)

    code = main(["sync", "github", "--repos", "acme/api,acme/web"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""  # no per-repository FAILED lines
    assert err.count("\n") == 1
    assert err.startswith("etl: error: GitHub Connection 'github_default' is not defined: ")
    assert "AIRFLOW_CONN_GITHUB_DEFAULT" in err
    assert "ETL_GITHUB_CONN_ID" in err


def test_the_cli_names_the_connection_id_the_setting_chose(sync_env, etl_env, capsys):
    from reliable_etl.config import settings

    etl_env.setenv("ETL_JIRA_CONN_ID", "jira_prod")
    settings.cache_clear()

    code = main(["sync", "jira", "--projects", "ENG"])

    assert code == 2
    assert (
        "Jira Connection 'jira_prod' is not defined: define it with AIRFLOW_CONN_JIRA_PROD" in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("service", "variable", "param"),
    [("github", "ETL_GITHUB_REPOS", "repos"), ("jira", "ETL_JIRA_PROJECTS", "projects")],
)
def test_nothing_to_sync_is_a_skip_that_names_the_settings(caplog, service, variable, param):
    with (
        caplog.at_level(logging.WARNING, logger="reliable_etl.sync.operators"),
        pytest.raises(AirflowSkipException) as exc,
    ):
        configured_entities(service, [])

    assert variable in str(exc.value)
    assert f"`{param}`" in str(exc.value)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [str(exc.value)]
    assert configured_entities(service, ["b", "a", "b"]) == ["a", "b"]


def test_the_dag_describes_itself_and_titles_its_params():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS_DIR / "engineering_sync.py")).dags["engineering_sync"]

    assert dag.description.startswith("Hourly: Jira issues and GitHub pull requests")
    assert "\n" not in dag.description
    assert {name: bool(param.schema.get("title")) for name, param in dag.params.items()} == {
        "full_refresh": True,
        "repos": True,
        "projects": True,
    }
    assert dag.get_task("sync_github").partial_kwargs["github_conn_id"] == "github_default"  # ETL_GITHUB_CONN_ID
    assert dag.get_task("sync_jira").partial_kwargs["jira_conn_id"] == "jira_default"
