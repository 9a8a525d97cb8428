"""Nothing the dashboard returns holds a secret.

Every value read from the warehouse goes through `mask` before it leaves: the bundle's own
patterns first (``reliable_etl_plugin.masking.redact``: passwords in URIs, ``token=...``, Slack and Teams
webhook URLs, GitHub and Slack tokens), then the secrets actually configured, wherever they
appear: the password and the sensitive extras (``token``, ``webhook_url``, ... as Airflow's
secrets masker names them) of every Connection, from ``AIRFLOW_CONN_*`` variables and from
Airflow's metadata database. A record written before a secret was rotated in, or by a writer
that did not redact, still comes out masked. The configured values are re-read every
`REFRESH_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any

from reliable_etl_plugin.masking import MASK, redact

log = logging.getLogger(__name__)

MIN_LENGTH = 5  # shorter values cannot be told from ordinary text (Airflow's masker has the same floor)
REFRESH_SECONDS = 30.0

_lock = threading.Lock()
_cache: dict[str, Any] = {"read_at": None, "pattern": None}  # the configured secrets as one regex


def _sensitive(key: str) -> bool:
    from airflow._shared.secrets_masker.secrets_masker import DEFAULT_SENSITIVE_FIELDS

    name = key.lower()
    return any(field in name for field in DEFAULT_SENSITIVE_FIELDS) or "webhook" in name


def _walk_extra(value: Any, sensitive: bool, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _walk_extra(item, sensitive or _sensitive(str(key)), found)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk_extra(item, sensitive, found)
    elif sensitive and value is not None:
        found.add(str(value))


def _connection_secrets(conn: Any, found: set[str]) -> None:
    if conn.password:
        found.add(conn.password)
    try:
        _walk_extra(conn.extra_dejson, False, found)
    except Exception:  # an unreadable extra holds nothing we could name
        log.debug("extra of connection %s not readable", conn.conn_id)


def configured_secrets() -> set[str]:
    """The passwords and sensitive extras of every Connection this api-server can see."""
    from airflow.models.connection import Connection

    found: set[str] = set()
    for name, value in os.environ.items():
        if not name.startswith("AIRFLOW_CONN_") or not value:
            continue
        try:
            conn_id = name.removeprefix("AIRFLOW_CONN_").lower()
            conn = (
                Connection.from_json(value, conn_id=conn_id)
                if value.lstrip().startswith("{")
                else Connection(conn_id=conn_id, uri=value)
            )
        except Exception:  # malformed: mask the whole value rather than guess its parts
            found.add(value)
            continue
        _connection_secrets(conn, found)
    try:
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            for conn in session.scalars(select(Connection)):
                _connection_secrets(conn, found)
    except Exception as exc:  # no metadata database here (unit tests, the CLI): the variables are all there is
        log.debug("connections of the metadata database not read: %s", exc)
    return {secret for secret in found if len(secret) >= MIN_LENGTH}


def _pattern() -> re.Pattern[str] | None:
    with _lock:
        read_at = _cache["read_at"]
        if read_at is None or time.monotonic() - read_at > REFRESH_SECONDS:
            secrets = sorted(configured_secrets(), key=len, reverse=True)  # the longest first
            _cache["pattern"] = re.compile("|".join(map(re.escape, secrets))) if secrets else None
            _cache["read_at"] = time.monotonic()
        return _cache["pattern"]


def forget() -> None:
    """Read the configured secrets again at the next `mask` (tests, a rotated Connection)."""
    with _lock:
        _cache["read_at"] = None


def _mask_text(text: str, pattern: re.Pattern[str] | None) -> str:
    text = redact(text)
    return pattern.sub(MASK, text) if pattern else text


def mask(value: Any) -> Any:
    """`value` (a row, a list, a string, any JSON) with every secret masked."""
    pattern = _pattern()

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _mask_text(item, pattern)
        if isinstance(item, dict):
            return {key: walk(val) for key, val in item.items()}
        if isinstance(item, list | tuple):
            return [walk(val) for val in item]
        return item

    return walk(value)
