"""The hooks: queries valid on GitHub's real schema, credentials from Connections, budget, secrets."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from reliable_etl.sync.errors import ApiRequestError, RateLimitWait
from reliable_etl.sync.hooks.github import QUERY_DIR, GitHubHook, RateLimit, load_query
from reliable_etl.sync.hooks.jira import JiraHook
from reliable_etl_dev.testing.sync import GITHUB_SCHEMA

SENT_QUERIES = sorted(p.stem for p in QUERY_DIR.glob("*.graphql") if not p.name.endswith(".fragment.graphql"))


@pytest.mark.skipif(not GITHUB_SCHEMA.exists(), reason="GitHub's schema is in ../shared/fixtures/github")
@pytest.mark.parametrize("name", SENT_QUERIES)
def test_every_query_we_send_is_valid_on_githubs_real_schema(name):
    from graphql import build_schema, parse, validate

    schema = build_schema(GITHUB_SCHEMA.read_text(encoding="utf-8"), assume_valid_sdl=True)
    schema._validation_errors = []  # GitHub's SDL needs this allowance with graphql-core 3.3
    assert validate(schema, parse(load_query(name))) == []
    assert "rateLimit" in load_query(name)  # every query reports its cost


def test_the_sync_sends_only_these_queries():
    assert SENT_QUERIES == ["pull_request_ids", "pull_requests_by_id", "pull_requests_page"]


def connection_env(etl_env, conn_id: str, **conn) -> None:
    from reliable_etl.config import settings

    etl_env.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **conn}))
    settings.cache_clear()


@pytest.mark.parametrize(
    ("host", "extra", "deployment", "endpoint"),
    [
        ("https://acme.atlassian.net", {}, "cloud", "/rest/api/3/search/jql"),
        ("https://jira.acme.internal", {}, "server", "/rest/api/2/search"),
        ("https://jira.acme.internal", {"deployment": "cloud"}, "cloud", "/rest/api/3/search/jql"),
    ],
)
def test_jira_search_api_is_picked_per_connection(etl_env, host, extra, deployment, endpoint):
    connection_env(etl_env, "jira_x", host=host, login="me", password="secret-token", extra=extra)
    hook = JiraHook("jira_x")
    assert (hook.deployment, hook.search_endpoint) == (deployment, endpoint)
    assert "deployment" not in hook.session.headers  # our extras are not sent as headers


def test_jira_server_personal_access_token_is_a_bearer(etl_env):
    connection_env(etl_env, "jira_x", host="https://jira.acme.internal", password="pat", extra={"auth": "bearer"})
    session = JiraHook("jira_x").session
    assert session.headers["Authorization"] == "Bearer pat"
    assert session.auth is None
    assert "auth" not in {k.lower() for k in session.headers if k != "Authorization"}


def test_github_token_is_a_bearer_header(etl_env):
    connection_env(etl_env, "gh_x", host="https://api.github.com", password="ghp_" + "a" * 36)
    hook = GitHubHook("gh_x")
    assert hook.session.headers["Authorization"] == "bearer ghp_" + "a" * 36
    assert hook.url_from_endpoint("/graphql") == "https://api.github.com/graphql"


def test_credentials_never_reach_an_error_message(fake, etl_env):
    """A 401 names the connection, never the token."""
    from reliable_etl_dev.fakes.server import FakeServer

    token = "ghp_" + "s3cr3t" * 6
    connection_env(etl_env, "gh_x", host=fake.url, password=token)
    fake.github.add_repo("acme/api", count=3)
    hook = GitHubHook("gh_x")
    hook.session.headers["Authorization"] = ""  # as the API sees a missing or revoked token
    with pytest.raises(ApiRequestError) as exc_info:
        hook.pull_requests_page("acme/api", first=10, after=None)
    assert "'gh_x'" in str(exc_info.value)
    assert token not in str(exc_info.value)
    assert isinstance(fake, FakeServer)


def test_github_stops_before_the_hourly_budget_runs_out(fake, etl_env):
    connection_env(etl_env, "gh_x", host=fake.url, password="t")
    hook = GitHubHook("gh_x")
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    hook.rate = RateLimit(cost=1, remaining=hook.reserve - 1, reset_at=reset)
    with pytest.raises(RateLimitWait) as exc_info:
        hook.pull_requests_page("acme/api", first=10, after=None)
    assert exc_info.value.until == reset
    assert fake.requests == []  # nothing was sent
