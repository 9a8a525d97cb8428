"""What can go wrong talking to Jira and GitHub, classified by what the sync does about it.

- ``RetryableApiError``: try the same request again after a backoff (timeouts, resets,
  5xx, invalid JSON); the hook's retry loop does it, bounded.
- ``RateLimited``: the API said when to come back. Short waits are slept; past
  ``ETL_SYNC_MAX_SLEEP_SECONDS`` the hook raises ``RateLimitWait`` instead: the job saves its
  state, turns PENDING with ``next_retry_at`` and frees the worker.
- ``ServerBusyError``: 502/504, the query was too expensive; the page size is halved.
- ``InvalidCursorError``: a stored cursor is no longer accepted; the walk restarts from the watermark.
- ``CorruptPageError``: the answer stayed unreadable after the retries; the job FAILS and
  waits for someone (``etl sync resume``).
- ``ApiRequestError``: the request itself is wrong (credentials, JQL, a removed endpoint, a
  repository we cannot see); retrying cannot help. ``MissingIssuesError`` is the one the
  sync handles: Jira refused a query naming issues that no longer exist; they are gone, and
  the query is asked again without them.
- ``ConfigurationError``: a Connection or setting is missing or malformed; the task fails at
  once without retries and the CLI exits 2, naming what to set.
"""

from __future__ import annotations

import datetime as dt

from reliable_etl import errors


class SyncError(RuntimeError):
    """Base of the sync errors."""


class RetryableApiError(SyncError):
    """A request that may succeed if sent again."""


class InvalidResponseError(RetryableApiError):
    """An answer that is not the JSON document the API promises (truncated, HTML, wrong shape)."""


class ServerBusyError(RetryableApiError):
    """502/504: the server gave up on the query; a smaller page usually goes through."""


class RateLimited(RetryableApiError):
    """The API asked us to wait until ``until`` (short enough to sleep through)."""

    def __init__(self, message: str, until: dt.datetime) -> None:
        super().__init__(message)
        self.until = until

    @property
    def seconds(self) -> float:
        """How long to sleep: at least a second (resets come in whole seconds and clocks drift)."""
        return max(1.0, (self.until - dt.datetime.now(dt.UTC)).total_seconds())


class RateLimitWait(SyncError):
    """A wait longer than we hold a worker for: save state and come back at ``until``."""

    def __init__(self, message: str, until: dt.datetime) -> None:
        super().__init__(message)
        self.until = until


class InvalidCursorError(SyncError):
    """The API rejected a pagination cursor we stored."""


class CorruptPageError(SyncError):
    """A page that could not be read even after retries: needs a person."""


class ApiRequestError(SyncError):
    """The API refused the request for a reason retrying cannot fix."""


class MissingIssuesError(ApiRequestError):
    """Jira refused a query naming issues that do not exist (deleted, or moved out of our sight)."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing  # the ids and keys, as the query named them


class ConfigurationError(SyncError, errors.ConfigurationError):
    """A missing or malformed Connection or setting: permanent; the message names what to set."""


class RecordError(ValueError):
    """One record that fails validation: skipped, counted, kept in ops.rejected_rows."""


class JobPausedError(SyncError):
    """The job was paused by hand while we worked on it; we stopped at a page boundary."""


class IllegalTransitionError(SyncError):
    """A job status change the state machine does not allow."""
