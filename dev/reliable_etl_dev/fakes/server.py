"""The HTTP side of the fake server: one loopback port for both APIs, latency, faults, a request log."""

from __future__ import annotations

import json
import logging
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from reliable_etl_dev.fakes.faults import TRANSPORT_KINDS, Fault, Faults
from reliable_etl_dev.fakes.github import FakeGitHub
from reliable_etl_dev.fakes.jira import FakeJira
from reliable_etl_dev.fakes.protocol import PAGE, Call, Reply, Request

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received; ``status`` is None until answered, or when the connection was reset."""

    service: str  # github | jira | unknown
    entity: str | None
    kind: str  # page | ids | nodes | count | other
    key: Any
    status: int | None
    fault: str | None
    at: float  # time.monotonic() on arrival


class FakeServer:
    """A fake Jira and GitHub on 127.0.0.1, serving from a daemon thread; also a context manager.

    ``port=0`` picks a free port. ``latency`` seconds are slept before every response.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        jira_mode: str = "cloud",
        github_schema_path: str | Path | None = None,
    ) -> None:
        self.port = port
        self.latency = latency
        self.github = FakeGitHub(github_schema_path)
        self.jira = FakeJira(jira_mode)
        self.faults = Faults()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # per service: requests received and not answered yet
        self._peak: dict[str, int] = {}  # per service: the most in flight at once
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeServer:
        if self._httpd is not None:
            return self
        self.github.load_schemas()
        self._httpd = _HTTPServer((HOST, self.port), _Handler)
        self._httpd.fake = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="etl-fake-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake server is not started")
        return f"http://{HOST}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def page_requests(self, service: str, entity: str) -> list[RequestRecord]:
        return [r for r in self.requests if r.service == service and r.entity == entity and r.kind == PAGE]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()
            self._peak = dict(self._in_flight)

    def peak_concurrency(self, service: str) -> int:
        """The most requests of `service` (github | jira) in flight at once since the start or
        `clear_requests`: with one request at a time per sync task, its tasks that ran at once."""
        with self._log_lock:
            return self._peak.get(service, 0)

    def handle(self, request: Request) -> Reply | None:
        """Answer one request; None means: reset the connection without an answer."""
        arrived = time.monotonic()
        api = self._api(request.path)
        service = api.service if api else "unknown"
        call = api.describe(request) if api else Call(reply=Reply.json(404, {"message": "Not Found"}))
        # counting, firing and logging under one lock keep fault numbers and log order the same
        with self._log_lock:
            fault = self.faults.fire(service, call) if api else None
            record = RequestRecord(service, call.entity, call.kind, call.key, None, fault and fault.kind, arrived)
            index = len(self._log)
            self._log.append(record)
            self._in_flight[service] = self._in_flight.get(service, 0) + 1
            self._peak[service] = max(self._peak.get(service, 0), self._in_flight[service])
        try:
            if self.latency:
                time.sleep(self.latency)
            reply = self._answer(api, call, fault)
        except Exception:
            log.exception("fake server failed on %s %s", request.method, request.path)
            reply = Reply.json(500, {"message": "the fake server failed; see its log"})
        with self._log_lock:
            self._in_flight[service] -= 1
            if index < len(self._log) and self._log[index] is record:
                self._log[index] = replace(record, status=reply.status if reply else None)
        return reply

    def _api(self, path: str) -> FakeGitHub | FakeJira | None:
        if path.startswith("/graphql"):
            return self.github
        if path.startswith("/rest/"):
            return self.jira
        return None

    @staticmethod
    def _answer(api: FakeGitHub | FakeJira | None, call: Call, fault: Fault | None) -> Reply | None:
        kind = fault.kind if fault else None
        if api is None:
            return call.reply
        if kind == "reset":
            return None
        if kind == "invalid_json":
            return Reply(200, b"<html><body>upstream error</body></html>", {"Content-Type": "application/json"})
        if kind == "timeout":
            time.sleep(fault.params.get("delay", 5))
        reply = api.answer(call, None if kind in TRANSPORT_KINDS else fault)
        if kind == "truncated_json":
            reply = Reply(200, reply.body[: len(reply.body) // 2], reply.headers)
        return reply


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake server: connection from %s ended badly", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs
    # headers and body go out in two writes: with Nagle's algorithm the body waits ~40 ms for the
    # client's delayed ACK of the headers
    disable_nagle_algorithm = True
    server_version = "etl-fake-server"
    sys_version = ""
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        fake = self.server.fake
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            base_url=fake.url,
        )
        reply = fake.handle(request)
        if reply is None:
            self._reset()
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):  # the client's timeout was shorter than our delay
            self.close_connection = True

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the kernel sends RST, the client sees a connection reset."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()
        self.close_connection = True

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("fake server: " + fmt, *args)  # formatted only when debug logging is on


def connection_lines(url: str, jira_mode: str) -> list[str]:
    """The AIRFLOW_CONN_* lines that point the syncs at a fake server."""
    github = {"conn_type": "http", "host": url, "password": "fake-token"}
    jira = {
        "conn_type": "http",
        "host": url,
        "login": "me@example.com",
        "password": "fake-token",
        "extra": {"deployment": jira_mode},
    }
    return [f"AIRFLOW_CONN_GITHUB_DEFAULT='{json.dumps(github)}'", f"AIRFLOW_CONN_JIRA_DEFAULT='{json.dumps(jira)}'"]


def serve(
    *,
    port: int,
    latency: float,
    repos: dict[str, int],
    projects: dict[str, int],
    jira_mode: str,
    github_schema_path: str | None,
    out: TextIO = sys.stdout,
) -> None:
    """Run a seeded fake server until Ctrl-C or SIGTERM; write the connection lines to `out` first."""
    stopping = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set()) if in_main_thread else None
    try:
        with FakeServer(port=port, latency=latency, jira_mode=jira_mode, github_schema_path=github_schema_path) as srv:
            for repo, count in repos.items():
                srv.github.add_repo(repo, count=count)
            for project, count in projects.items():
                srv.jira.add_project(project, count=count)
            out.write("\n".join(connection_lines(srv.url, jira_mode)) + "\n")
            out.flush()
            log.info("fake Jira (%s) and GitHub serving on %s", jira_mode, srv.url)
            try:
                while not stopping.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
