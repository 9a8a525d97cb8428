"""Helpers of the maintenance tests (tests/unit/test_maintenance_*.py): real services only.

The fixtures built on them (``maint_env``, ``redis_ns``, ``redis_down``, ``private_pg``,
``private_warehouse``, ``slack``) are in tests/unit/conftest.py.

- ``redis_conn``: the local Redis (127.0.0.1:6379), or a port of the test's choosing, as a Connection.
- ``closed_port``: a loopback port nobody listens on.
- ``SlackReceiver``: what a local HTTP receiver speaking the Slack incoming webhook's answers was sent.
"""

from __future__ import annotations

import json
import socket

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def redis_conn(port: int = REDIS_PORT, db: int = 0) -> str:
    return json.dumps({"conn_type": "redis", "host": REDIS_HOST, "port": port, "extra": {"db": db}})


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SlackReceiver:
    """Records the JSON bodies POSTed to it; answers 200 "ok" like a Slack incoming webhook."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.url = ""

    def texts(self) -> list[str]:
        return [post.get("text", "") for post in self.posts]
