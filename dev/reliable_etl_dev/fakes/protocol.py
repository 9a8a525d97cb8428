"""What the HTTP plumbing and the two fake APIs share: requests, replies, and generated history."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import Any

PAGE, IDS, NODES, COUNT, OTHER = "page", "ids", "nodes", "count", "other"

# Generated records are spread over the 90 days before this instant, so every run sees the same data.
REFERENCE_TIME = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
HISTORY = dt.timedelta(days=90)

_VERBS = ("Fix", "Add", "Remove", "Refactor", "Document", "Speed up", "Retry", "Validate", "Log", "Test")
_NOUNS = (
    "login flow",
    "billing export",
    "search index",
    "rate limiter",
    "retry policy",
    "CSV parser",
    "webhook handler",
    "dashboard",
    "cache warmer",
    "audit trail",
    "session store",
    "release notes",
)

_COMPACT = json.JSONEncoder(separators=(",", ":"))  # the same JSON in fewer bytes for the client to read


@dataclass(frozen=True)
class Request:
    """One HTTP request as read off the socket."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    """One HTTP response; the server writes it as is."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        body = _COMPACT.encode(payload).encode()
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    @classmethod
    def html(cls, status: int, text: str) -> Reply:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Call:
    """What a request asks for, read before it is answered: it drives the request log and the faults.

    ``reply`` is set when the answer is already known from the request alone (401, 400, 404, 410).
    """

    kind: str = OTHER  # page | ids | nodes | count | other
    entity: str | None = None  # "owner/name" or a Jira project key
    key: Any = None  # the page's cursor (GitHub) or (jql, nextPageToken or startAt) (Jira)
    page_size: int | None = None
    has_cursor: bool = False
    detail: Any = None  # the parsed request, for the API that described it
    reply: Reply | None = None


def now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def title(rng: random.Random) -> str:
    return f"{rng.choice(_VERBS)} {rng.choice(_NOUNS)}"


def edited(text: str, edit: int) -> str:
    """The text with its edit suffix replaced: "Fix X (edit 2)"."""
    return f"{text.split(' (edit ', maxsplit=1)[0]} (edit {edit})"


def spread_times(rng: random.Random, count: int, step_ms: int) -> list[tuple[int, int]]:
    """(created, updated) epoch-ms pairs, created ascending; ~5% share `updated` with the next record."""
    end = int(REFERENCE_TIME.timestamp() * 1000)
    start = end - int(HISTORY.total_seconds() * 1000)
    created = sorted(rng.randrange(start, end) // step_ms * step_ms for _ in range(count))
    updated = [rng.randrange(c, end) // step_ms * step_ms for c in created]
    for i in range(1, count):
        # created[i - 1] <= created[i] <= updated[i], so the earlier record can take the later one's time
        if rng.random() < 0.05:
            updated[i - 1] = updated[i]
    return list(zip(created, updated, strict=True))
