"""Jira's issue search: Cloud's ``/rest/api/3/search/jql`` or Server/Data Center's ``/rest/api/2/search``.

Which one is decided per Connection: extra ``{"deployment": "cloud" | "server"}``, else
Cloud for ``*.atlassian.net`` hosts. Cloud pages with ``nextPageToken``/``isLast`` and has
no ``total`` (counts come from ``/search/approximate-count``); Server pages with
``startAt``/``total``. Cloud removed the old search in 2025: a 410 says what to change.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import requests

from reliable_etl.sync.errors import (
    ApiRequestError,
    InvalidCursorError,
    InvalidResponseError,
    MissingIssuesError,
)
from reliable_etl.sync.hooks.api import ApiHook, excerpt, retry_after, utcnow

DEFAULT_RATE_LIMIT_WAIT = dt.timedelta(seconds=60)
# Jira's refusal of a JQL value naming an issue that does not exist (or that the user cannot see),
# one message per value: "An issue with key '10009' does not exist for field 'id'." (and 'ENG-57'
# ... 'key'; the field as the query wrote it: key, issuekey, issueKey, id)
MISSING_ISSUE = re.compile(r"'([^']+)' does not exist for (?:the )?field '(?:id|key|issuekey)'", re.IGNORECASE)


@dataclass(frozen=True)
class SearchPage:
    issues: list[dict]
    is_last: bool
    next_page_token: str | None  # Cloud: nextPageToken; Server: the next startAt, as text
    total: int | None  # Server only


class JiraHook(ApiHook):
    """Jira REST search. Cloud: login = email, password = API token (basic auth).

    Server/Data Center: extra ``{"deployment": "server"}``; a personal access token goes in
    password with extra ``{"auth": "bearer"}``.
    """

    conn_name_attr = "jira_conn_id"
    default_conn_name = "jira_default"
    conn_type = "http"
    hook_name = "Jira"
    service = "jira"
    label = "Jira"
    conn_id_setting = "ETL_JIRA_CONN_ID"
    conn_example = (
        'e.g. {"conn_type": "http", "host": "https://SITE.atlassian.net", "login": "<email>", '
        '"password": "<API token>"}'
    )
    extra_keys = ("deployment", "auth")

    @cached_property
    def deployment(self) -> str:
        deployment = _deployment(self.connection)
        if deployment not in {"cloud", "server"}:
            raise self.configuration_error(f"has extra deployment {deployment!r}, not 'cloud' or 'server'")
        return deployment

    def connection_problem(self, conn) -> str | None:
        auth, deployment = conn.extra_dejson.get("auth", "basic"), _deployment(conn)
        if not conn.host:
            return "has no host (the site's URL)"
        if deployment not in {"cloud", "server"}:
            return f"has extra deployment {deployment!r}, not 'cloud' or 'server'"
        if auth not in {"basic", "bearer"}:
            return f"has extra auth {auth!r}, not 'basic' or 'bearer'"
        if not conn.password:
            return "has no password (the API token, or a personal access token with extra auth 'bearer')"
        if auth == "basic" and not conn.login:
            return "has no login (the account's email; a personal access token takes extra auth 'bearer')"
        return None

    @property
    def search_endpoint(self) -> str:
        return "/rest/api/3/search/jql" if self.deployment == "cloud" else "/rest/api/2/search"

    def configure_session(self, session: requests.Session) -> None:
        if self.connection.extra_dejson.get("auth") == "bearer":
            session.auth = None
            session.headers["Authorization"] = f"Bearer {self.connection.password or ''}"
        session.headers["Accept"] = "application/json"

    def check_response(self, response: requests.Response) -> None:
        status, endpoint = response.status_code, requests.utils.urlparse(response.url).path
        if status == 410:
            raise ApiRequestError(
                f"Jira answered 410 Gone on {endpoint}: this is Jira Cloud, which removed that search in 2025. "
                f'Set extra {{"deployment": "cloud"}} on connection {self.http_conn_id!r} so the sync uses '
                "/rest/api/3/search/jql"
            )
        if status == 404 and self.deployment == "cloud" and endpoint.startswith("/rest/api/3/search"):
            raise ApiRequestError(
                f"Jira answered 404 on {endpoint}: this looks like Jira Server/Data Center. Set extra "
                f'{{"deployment": "server"}} on connection {self.http_conn_id!r}'
            )
        if status in {401, 403}:
            raise ApiRequestError(
                f"Jira refused the credentials of connection {self.http_conn_id!r} (HTTP {status}): "
                "check its login and password (API token)"
            )
        if status == 429 or (status == 503 and "Retry-After" in response.headers):
            until = retry_after(response.headers)
            if until is None and response.headers.get("X-RateLimit-Reset"):
                until = dt.datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
            reason = response.headers.get("RateLimit-Reason", "rate limited")
            raise self.rate_limited(f"Jira HTTP {status} ({reason})", until or utcnow() + DEFAULT_RATE_LIMIT_WAIT)
        if status == 400:
            messages = _error_messages(response)
            if "page token" in messages.lower():
                raise InvalidCursorError(f"Jira rejected the page token: {messages}")
            if missing := MISSING_ISSUE.findall(messages):
                raise MissingIssuesError(f"Jira: no issue {', '.join(missing)} (deleted, or out of sight)", missing)
            raise ApiRequestError(f"Jira rejected the search (400): {messages}")

    def search(
        self,
        jql: str,
        *,
        fields: list[str],
        max_results: int,
        page_token: str | None = None,
        retry_busy: bool = True,
    ) -> SearchPage:
        """One page of ``jql``; ``page_token`` continues a previous page of the same query."""
        what = f"Jira search [{jql}] page {page_token or 'first'}"
        body: dict[str, Any] = {"jql": jql, "maxResults": max_results, "fields": fields}
        if self.deployment == "cloud":
            if page_token:
                body["nextPageToken"] = page_token
        else:
            body["startAt"] = int(page_token or 0)

        def parse(data: Any, response: requests.Response) -> SearchPage:
            try:
                issues = data["issues"]
                if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
                    raise TypeError("issues is not a list of objects")
                if self.deployment == "cloud":
                    token = data.get("nextPageToken")
                    return SearchPage(issues, bool(data.get("isLast", token is None)), token, None)
                start, total = int(data["startAt"]), int(data["total"])
                following = start + len(issues)
                return SearchPage(issues, following >= total or not issues, str(following), total)
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidResponseError(f"{what}: the page does not have the expected shape ({exc})") from exc

        return self.call("POST", self.search_endpoint, what=what, parse=parse, retry_busy=retry_busy, json=body)

    def search_page(self, jql: str, *, fields: list[str], max_results: int) -> tuple[SearchPage, int]:
        """The first page of ``jql``, halving the page size on 502/504; returns (page, size used)."""
        return self.with_page_size(
            lambda size, retry_busy: self.search(jql, fields=fields, max_results=size, retry_busy=retry_busy),
            max_results,
        )

    def count(self, jql: str) -> int:
        """How many issues match: Cloud's approximate count, Server's ``total``."""
        if self.deployment == "server":
            return self.search(jql, fields=["id"], max_results=0).total or 0
        what = f"Jira count [{jql}]"

        def parse(data: Any, response: requests.Response) -> int:
            try:
                return int(data["count"])
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidResponseError(f"{what}: no count in the answer ({exc})") from exc

        return self.call("POST", "/rest/api/3/search/approximate-count", what=what, parse=parse, json={"jql": jql})


def _deployment(conn) -> str:
    """Extra ``deployment``, else Cloud for ``*.atlassian.net`` hosts, else Server."""
    return conn.extra_dejson.get("deployment") or ("cloud" if ".atlassian.net" in (conn.host or "") else "server")


def _error_messages(response: requests.Response) -> str:
    try:
        data = response.json()
        return "; ".join([*data.get("errorMessages", []), *(f"{k}: {v}" for k, v in data.get("errors", {}).items())])
    except (ValueError, AttributeError):
        return excerpt(response)
