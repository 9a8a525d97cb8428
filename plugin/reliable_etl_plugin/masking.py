"""Secrets never leave a process: the patterns every log record, error and dashboard answer goes through.

Shared by the bundle (its structured logs, the CLI's errors) and the dashboard (every value it
reads), so that both mask the same things.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Values that must never reach a log line or a table, whatever the key they travel under.
_SECRET_PATTERNS = (
    # user:password@ in URIs
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.IGNORECASE), r"\g<keep>" + MASK),
    # password=..., token: ..., "api_key": "..."
    (
        re.compile(
            r"(?P<keep>\b(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization)\b"
            r"[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|token\s+|basic\s+)?)[^\s\"',;&}]+",
            re.IGNORECASE,
        ),
        r"\g<keep>" + MASK,
    ),
    # webhook URLs carry their secret in the path
    (re.compile(r"https://hooks\.slack\.com/\S+"), "https://hooks.slack.com/" + MASK),
    # Teams: legacy connectors, Workflows on Logic Apps, and Workflows on Power Platform (since 2025)
    (
        re.compile(r"https://[\w.-]*(?:webhook\.office\.com|logic\.azure\.com|api\.powerplatform\.com)\S*"),
        "https://" + MASK,
    ),
    # GitHub and Slack tokens
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|xox[abprs]-[\w-]{10,})"), MASK),
)
_SECRET_KEYS = re.compile(r"password|passwd|secret|token|api[_-]?key|authorization|webhook", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask secrets in free text."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any) -> Any:
    """Mask secrets in nested metadata: by key name, and in every string."""
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEYS.search(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value
