"""GitHub's GraphQL API: pull requests page by page, with the query's cost in every answer.

Every query lives in ``reliable_etl/graphql/github/`` (a test validates each against GitHub's
real schema) and asks for ``rateLimit {cost remaining resetAt}``, so the hook knows its
budget after every page and stops before it runs out.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests

from reliable_etl.config import resource, settings
from reliable_etl.sync.errors import (
    ApiRequestError,
    InvalidCursorError,
    InvalidResponseError,
    RateLimitWait,
    RetryableApiError,
)
from reliable_etl.sync.hooks.api import ApiHook, excerpt, retry_after, utcnow

QUERY_DIR = resource("graphql", "github")
FRAGMENT = "PullRequestFields"
SECONDARY_LIMIT_WAIT = dt.timedelta(seconds=60)  # GitHub: "wait at least one minute"


@cache
def load_query(name: str) -> str:
    """``reliable_etl/graphql/github/<name>.graphql``, with the fragment appended where it is spread."""
    text = (QUERY_DIR / f"{name}.graphql").read_text(encoding="utf-8")
    if f"...{FRAGMENT}" in text:
        text += "\n" + (QUERY_DIR / "pull_request_fields.fragment.graphql").read_text(encoding="utf-8")
    return text


@dataclass(frozen=True)
class RateLimit:
    cost: int
    remaining: int
    reset_at: dt.datetime


@dataclass(frozen=True)
class Page:
    """One page of a connection: its nodes and where the next page starts."""

    nodes: list[dict]
    end_cursor: str | None
    has_next: bool
    total_count: int
    rate: RateLimit


def _timestamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class GitHubHook(ApiHook):
    """GitHub GraphQL (``POST {host}/graphql``); the token is the Connection's password."""

    conn_name_attr = "github_conn_id"
    default_conn_name = "github_default"
    conn_type = "http"
    hook_name = "GitHub GraphQL"
    default_host = "https://api.github.com"
    service = "github"
    label = "GitHub"
    conn_id_setting = "ETL_GITHUB_CONN_ID"
    conn_example = 'e.g. {"conn_type": "http", "host": "https://api.github.com", "password": "<token>"}'
    max_page_size = 100

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__(conn_id)
        self.rate: RateLimit | None = None
        self.reserve = settings().github_rate_reserve

    def connection_problem(self, conn) -> str | None:
        if not conn.password:  # no host is fine: HttpHook uses default_host
            return "has no password (the GitHub token)"
        return None

    def configure_session(self, session: requests.Session) -> None:
        session.auth = None
        session.headers["Authorization"] = f"bearer {self.connection.password or ''}"
        session.headers["Content-Type"] = "application/json"

    def before_request(self) -> None:
        """Stop before the hourly points run out rather than be refused."""
        rate = self.rate
        if rate is not None and rate.remaining < self.reserve and rate.reset_at > utcnow():
            self.rate = None  # after the wait, the window has reset
            error = self.rate_limited(
                f"GitHub: {rate.remaining} points left this hour (keeping {self.reserve} in reserve)", rate.reset_at
            )
            if isinstance(error, RateLimitWait):
                raise error
            self.log.warning("%s; waiting %.0f s", error, error.seconds)
            time.sleep(error.seconds)

    def check_response(self, response: requests.Response) -> None:
        status, headers = response.status_code, response.headers
        if status == 401:
            raise ApiRequestError(
                f"GitHub refused the token of connection {self.http_conn_id!r} (401): give it a valid token as password"
            )
        if status in {403, 429}:
            until = retry_after(headers)
            if until is None and headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
                until = dt.datetime.fromtimestamp(int(headers["x-ratelimit-reset"]), dt.UTC)
            if until is None and "secondary rate limit" in response.text.lower():
                until = utcnow() + SECONDARY_LIMIT_WAIT
            if until is not None:
                raise self.rate_limited(f"GitHub rate limit (HTTP {status})", until)
            raise ApiRequestError(f"GitHub refused the request (HTTP {status}): {excerpt(response)}")

    def graphql(self, query: str, variables: dict, *, what: str, retry_busy: bool = True) -> tuple[dict, list[dict]]:
        """POST one query; return (data, errors) after the rate-limit and fault checks."""

        def parse(body: Any, response: requests.Response) -> tuple[dict, list[dict]]:
            if not isinstance(body, dict):
                raise InvalidResponseError(f"{what}: the answer is not a GraphQL response: {excerpt(response, 80)}")
            errors = body.get("errors") or []
            types = {e.get("type") for e in errors if isinstance(e, dict)}
            if "RATE_LIMITED" in types:
                reset = response.headers.get("x-ratelimit-reset")
                until = dt.datetime.fromtimestamp(int(reset), dt.UTC) if reset else utcnow() + SECONDARY_LIMIT_WAIT
                raise self.rate_limited("GitHub rate limit (RATE_LIMITED)", until)
            if "INVALID_CURSOR_ARGUMENTS" in types:
                raise InvalidCursorError(f"{what}: {errors[0].get('message')}")
            data = body.get("data")
            if not isinstance(data, dict):
                message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict)) or "no data"
                if "something went wrong" in message.lower():
                    raise RetryableApiError(f"{what}: {message}")
                raise ApiRequestError(f"{what}: {message}")
            self.rate = self._rate(data.get("rateLimit"), what)
            return data, errors

        return self.call(
            "POST",
            "/graphql",
            what=what,
            parse=parse,
            retry_busy=retry_busy,
            json={
                "query": query,
                "variables": variables,
            },
        )

    def pull_requests_page(self, repo: str, *, first: int, after: str | None) -> tuple[Page, int]:
        """A page of ``repo``'s pull requests, newest update first; returns (page, page size used).

        On 502/504 the page size is halved until the query goes through.
        """
        return self.with_page_size(
            lambda size, retry_busy: self._connection_page("pull_requests_page", repo, size, after, retry_busy),
            min(first, self.max_page_size),
        )

    def pull_request_ids_page(self, repo: str, *, first: int, after: str | None) -> Page:
        """A page of ``repo``'s pull request ids (the id-only sweep)."""
        page, _ = self.with_page_size(
            lambda size, retry_busy: self._connection_page("pull_request_ids", repo, size, after, retry_busy),
            min(first, self.max_page_size),
        )
        return page

    def pull_requests_by_id(self, ids: list[str]) -> tuple[dict[str, dict | None], RateLimit]:
        """Known pull requests by node id (at most 100): ``{id: node, or None if GitHub lost it}``."""
        what = f"GitHub {len(ids)} pull requests by id"
        data, _errors = self.graphql(load_query("pull_requests_by_id"), {"ids": ids}, what=what)
        nodes = data.get("nodes")
        if not isinstance(nodes, list) or len(nodes) != len(ids):
            raise InvalidResponseError(f"{what}: 'nodes' is not a list of {len(ids)}")
        return dict(zip(ids, nodes, strict=True)), self.rate  # type: ignore[return-value]

    def _connection_page(self, query: str, repo: str, first: int, after: str | None, retry_busy: bool) -> Page:
        owner, _, name = repo.partition("/")
        what = f"GitHub {repo} {query.replace('_', ' ')} after {after or 'the start'}"
        data, _errors = self.graphql(
            load_query(query),
            {"owner": owner, "name": name, "first": first, "after": after},
            what=what,
            retry_busy=retry_busy,
        )
        repository = data.get("repository")
        if repository is None:
            raise ApiRequestError(f"{what}: repository {repo} not found, or the token cannot see it")
        connection = repository.get("pullRequests") if isinstance(repository, dict) else None
        try:
            nodes, info = connection["nodes"], connection["pageInfo"]
            if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
                raise TypeError("nodes is not a list of objects")
            return Page(nodes, info["endCursor"], bool(info["hasNextPage"]), int(connection["totalCount"]), self.rate)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResponseError(f"{what}: the page does not have the expected shape ({exc})") from exc

    @staticmethod
    def _rate(value: Any, what: str) -> RateLimit:
        try:
            return RateLimit(int(value["cost"]), int(value["remaining"]), _timestamp(value["resetAt"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidResponseError(f"{what}: rateLimit is missing or malformed ({exc})") from exc
