"""What the Jira and GitHub hooks share: one HTTP session per hook and one fault policy.

Built on the HTTP provider's ``HttpHook`` (base URL, credentials and headers from the
Connection). A request is retried with exponential backoff and full jitter on timeouts,
connection resets, 5xx answers and unreadable JSON, bounded by ``ETL_SYNC_HTTP_ATTEMPTS``; a
rate limit is slept through when the API asks for less than ``ETL_SYNC_MAX_SLEEP_SECONDS``,
and turned into ``RateLimitWait`` (save state, free the worker) when it asks for more.
``check_connection`` reads the Connection up front: a missing or malformed one is a
``ConfigurationError`` naming the Connection id and the variables that define it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.exceptions import AirflowNotFoundException
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from reliable_etl.config import settings
from reliable_etl.ops.logs import redact
from reliable_etl.sync.errors import (
    ApiRequestError,
    ConfigurationError,
    CorruptPageError,
    InvalidResponseError,
    RateLimited,
    RateLimitWait,
    RetryableApiError,
    ServerBusyError,
)

P = TypeVar("P")
Parse = Callable[[Any, requests.Response], P]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def retry_after(headers: requests.structures.CaseInsensitiveDict) -> dt.datetime | None:
    """The moment a ``Retry-After`` header (seconds or an HTTP date) points at."""
    value = headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return utcnow() + dt.timedelta(seconds=int(value))
    parsed = email.utils.parsedate_to_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def excerpt(response: requests.Response, limit: int = 300) -> str:
    """The start of a response body, secrets masked, for an error message."""
    return redact(" ".join(response.text[:limit].split()))


class ApiHook(HttpHook):
    """``HttpHook`` with a session kept for the hook's life and the sync fault policy.

    Subclasses set ``default_conn_name``, ``default_host`` and ``service``, configure auth in
    ``configure_session`` and turn statuses into errors in ``check_response``.
    """

    service = "api"
    label = "API"  # the service's name in messages
    conn_id_setting = ""  # the ETL_* variable that names another Connection id
    conn_example = ""  # what the Connection holds, for messages
    extra_keys: tuple[str, ...] = ()  # our own connection extras, which are not HTTP headers

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__(method="POST", http_conn_id=conn_id or self.default_conn_name)
        cfg = settings()
        self.timeout = cfg.sync_http_timeout
        self.attempts = cfg.sync_http_attempts
        self.max_sleep = cfg.sync_max_sleep_seconds
        self.requests_sent = 0

    @cached_property
    def connection(self):  # an airflow.sdk Connection
        try:
            return self.get_connection(self.http_conn_id)
        except AirflowNotFoundException:
            raise self.configuration_error("is not defined") from None

    def check_connection(self) -> None:
        """Read the Connection and check what the API needs, before any request: ConfigurationError."""
        conn = self.connection
        if conn.extra:
            try:
                extra = json.loads(conn.extra)
            except ValueError:
                extra = None
            if not isinstance(extra, dict):
                raise self.configuration_error("has an extra that is not a JSON object")
        problem = self.connection_problem(conn)
        if problem:
            raise self.configuration_error(problem)

    def connection_problem(self, conn) -> str | None:
        """What is wrong with the Connection for this API (None: nothing), as "has no password..."."""
        return None

    def configuration_error(self, problem: str) -> ConfigurationError:
        """The one line that says which Connection is wrong and how to define it (never its secrets)."""
        conn_id = self.http_conn_id
        variable = f"AIRFLOW_CONN_{conn_id.upper()}"
        other = f" (or set {self.conn_id_setting} to the id of another Connection)" if self.conn_id_setting else ""
        return ConfigurationError(
            f"{self.label} Connection {conn_id!r} {problem}: define it with {variable} or in the Airflow UI, "
            f"{self.conn_example}{other}"
        )

    @cached_property
    def session(self) -> requests.Session:
        session = self.get_conn()
        for key in self.extra_keys:  # HttpHook turns every unknown extra into a header
            session.headers.pop(key, None)
        if session.trust_env:
            # read the proxy and CA settings from the environment once, not on every request
            # (requests re-reads os.environ per call: ~2 ms each, a tenth of a page's work here)
            session.proxies = {**requests.utils.get_environ_proxies(self.base_url), **session.proxies}
            if session.verify is True and (bundle := os.environ.get("REQUESTS_CA_BUNDLE")):
                session.verify = bundle
            session.trust_env = False
        self.configure_session(session)
        return session

    def configure_session(self, session: requests.Session) -> None:
        """Set auth and headers the API needs (the Connection's login/password are basic auth)."""

    def check_response(self, response: requests.Response) -> None:
        """Raise the error class that says what to do with a non-2xx answer."""

    def before_request(self) -> None:
        """A chance to stop before sending (GitHub: the hourly budget is nearly spent)."""

    def rate_limited(self, message: str, until: dt.datetime) -> RateLimited | RateLimitWait:
        """Sleep through short waits (``RateLimited``); give the worker back for long ones."""
        wait = (until - utcnow()).total_seconds()
        if wait > self.max_sleep:
            return RateLimitWait(f"{message}; resuming at {until:%Y-%m-%d %H:%M:%S} UTC ({wait:.0f} s)", until)
        return RateLimited(message, until)

    def call(self, method: str, endpoint: str, *, what: str, parse: Parse[P], retry_busy: bool = True, **kwargs) -> P:
        """Send one request under the policy and return ``parse(json_body, response)``.

        ``what`` names the request in messages ("GitHub acme/api pull requests after X").
        With ``retry_busy=False`` a 502/504 is raised at once, for callers that shrink the page.
        """

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, RetryableApiError) and (retry_busy or not isinstance(exc, ServerBusyError))

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=self._wait,
            stop=stop_after_attempt(self.attempts),
            before_sleep=lambda state: self._log_retry(state, what),
            reraise=True,
        )
        try:
            return retrying(self._exchange, method, endpoint, what=what, parse=parse, **kwargs)
        except InvalidResponseError as exc:
            raise CorruptPageError(f"{exc} (still so after {self.attempts} attempts)") from exc
        except RateLimited as exc:
            raise RateLimitWait(f"{exc} (still so after {self.attempts} short waits)", exc.until) from exc

    def with_page_size(self, fetch: Callable[..., P], size: int) -> tuple[P, int]:
        """``fetch(size, retry_busy=...)``, halving ``size`` on every 502/504 (at 1, back off instead)."""
        while True:
            try:
                return fetch(size, retry_busy=size <= 1), size
            except ServerBusyError as exc:
                self.log.warning("%s; halving the page size to %d", exc, max(1, size // 2))
                size = max(1, size // 2)

    def _exchange(self, method: str, endpoint: str, *, what: str, parse: Parse[P], **kwargs) -> P:
        self.before_request()
        url = self.url_from_endpoint(endpoint)
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout as exc:
            raise RetryableApiError(f"{what}: no answer within {self.timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise RetryableApiError(f"{what}: connection failed ({type(exc).__name__})") from exc
        finally:
            self.requests_sent += 1
        if response.status_code >= 400:
            self.check_response(response)
            if response.status_code in {502, 504}:
                raise ServerBusyError(f"{what}: HTTP {response.status_code}, the query was too expensive")
            if response.status_code >= 500:
                raise RetryableApiError(f"{what}: HTTP {response.status_code}: {excerpt(response)}")
            raise ApiRequestError(f"{what}: HTTP {response.status_code}: {excerpt(response)}")
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidResponseError(
                f"{what}: the answer is not valid JSON ({exc}): {excerpt(response, 80)}"
            ) from exc
        return parse(body, response)

    @staticmethod
    def _wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited):
            return exc.seconds
        cfg = settings()
        return wait_random_exponential(multiplier=cfg.retry_wait_min, max=cfg.retry_wait_max)(state)

    def _log_retry(self, state: RetryCallState, what: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.log.warning(
            "%s (attempt %d of %d); retrying in %.1f s", exc, state.attempt_number, self.attempts, state.upcoming_sleep
        )
