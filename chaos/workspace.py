"""The suite's world: a PostgreSQL server, throwaway databases, distinctive secrets, the task processes.

Every task process is the real ``etl`` CLI in a subprocess, with ``-v`` so its logs go to its
output, which is kept in ``<root>/logs/`` (the "task logs" the secrets case searches). Its
Connections carry the secrets below: the warehouse password, the GitHub and Jira tokens, the
Slack and Teams webhook secrets and the SMTP password, all fake and all distinctive, so that
finding one anywhere is proof of a leak.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

ETL = [sys.executable, "-m", "reliable_etl.cli", "-v"]
KILLED = -9  # returncode of a process that died of SIGKILL
TEMPFAIL = 75  # the CLI's "a service is unavailable or a unit busy: run it again"

# Fake, distinctive secrets: none of them may appear in a log, a table or a backup.
# ruff: noqa: S105
WAREHOUSE_PASSWORD = "pw-chaos-Wh7Q3vK9x"
GITHUB_TOKEN = "ghp_chaosZq8W3xN5mR2pL7vB4cY9dF6hJ1kT0"
JIRA_LOGIN = "chaos-bot@example.com"
JIRA_TOKEN = "ATATTchaosJiraTok3xFfGF0aZ9Lm2QwE"
SLACK_SECRET = "chaosSlackHook9XqW2"
SLACK_TOKEN = f"T0CHAOS01/B0CHAOS02/{SLACK_SECRET}"
TEAMS_SIG = "chaosTeamsSig5RtY8"
TEAMS_PATH = (
    "/workflows/c4a05f00/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
    f"&sig={TEAMS_SIG}"
)
SMTP_PASSWORD = "smtp-chaos-Pw4ZkM"
REDIS_PASSWORD = "redis-chaos-Pw8TnQ"  # the Celery broker's


def secret_forms() -> dict[str, list[str]]:
    """Each secret, and the shapes it could leak in (URL-encoded, inside a Basic auth header)."""
    basic = base64.b64encode(f"{JIRA_LOGIN}:{JIRA_TOKEN}".encode()).decode()
    raw = {
        "warehouse password": [WAREHOUSE_PASSWORD],
        "GitHub token": [GITHUB_TOKEN],
        "Jira API token": [JIRA_TOKEN, basic],
        "Slack webhook": [SLACK_SECRET, SLACK_TOKEN],
        "Teams webhook": [TEAMS_SIG],
        "SMTP password": [SMTP_PASSWORD],
        "Redis password": [REDIS_PASSWORD],
    }
    return {
        name: sorted({form for value in values for form in (value, urllib.parse.quote(value, safe=""))})
        for name, values in raw.items()
    }


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """Stands in for Slack and Teams: records every POST; Slack gets 200 "ok", Teams 500 (the failure path)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.posts.append((self.path, self.rfile.read(int(self.headers.get("Content-Length") or 0))))
                status, body = (200, b"ok") if self.path.startswith("/services/") else (500, b"internal error")
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Ran:
    """One finished task process."""

    argv: list[str]
    rc: int
    started: dt.datetime
    ended: dt.datetime
    log: Path

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()

    @property
    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.text.splitlines()[-lines:])


@dataclass
class Running:
    """A task process still running; its output goes to ``log``."""

    argv: list[str]
    proc: subprocess.Popen
    started: dt.datetime
    log: Path
    _file: object = field(repr=False, default=None)

    @property
    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = 300) -> Ran:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        finally:
            self._file.close()  # type: ignore[attr-defined]
        return Ran(self.argv, rc, self.started, now(), self.log)

    def wait_for(self, needle: str, timeout: float = 120) -> bool:
        """Until ``needle`` appears in the output (True), or the process ended / time ran out (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text:
                return True
            if self.proc.poll() is not None:
                return needle in self.text
            time.sleep(0.005)
        return False


class Workspace:
    """Databases, directories, Connections and task processes of one suite run."""

    def __init__(self, root: Path, admin_uri: str) -> None:
        self.root = Path(root)
        self.admin_uri = admin_uri
        self.tag = f"chaos_{uuid.uuid4().hex[:8]}"
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.root / "airflow").mkdir(exist_ok=True)
        self.receiver = Receiver()
        self.smtp_port = free_port()  # nothing listens: every email fails, and its failure is logged
        self.databases: list[str] = []
        self.extra_scans: list[tuple[str, int]] = []  # (what, findings) scanned before it went away
        self.findings: list[dict] = []
        self.airflow_logs: list[Path] = []  # task-log directories of real Airflows the suite ran
        self._count = 0
        self._template: str | None = None

    # --- databases ------------------------------------------------------------------------

    def warehouse_uri(self, dbname: str, admin_uri: str | None = None) -> str:
        """The database as the `warehouse` Connection URI, with the suite's password in it."""
        info = psycopg.conninfo.conninfo_to_dict(admin_uri or self.admin_uri)
        host = info.get("host", "127.0.0.1")
        where = urllib.parse.quote(host, safe="") if host.startswith("/") else f"{host}:{info.get('port', 5432)}"
        return f"postgresql://{info.get('user', 'postgres')}:{WAREHOUSE_PASSWORD}@{where}/{dbname}"

    def libpq(self, dbname: str, admin_uri: str | None = None) -> str:
        return psycopg.conninfo.make_conninfo(admin_uri or self.admin_uri, dbname=dbname)

    @contextmanager
    def connect(self, dbname: str, admin_uri: str | None = None) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.libpq(dbname, admin_uri), autocommit=True, application_name="chaos") as conn:
            yield conn

    def database(self, label: str) -> str:
        """A new database with the bundle's schema (a copy of a template made once by `etl init`)."""
        if self._template is None:
            self._template = self.create_database(f"{self.tag}_template")
            ran = self.etl(["init"], db=self._template, label="template-init")
            if ran.rc != 0:
                raise RuntimeError(f"etl init of the template failed:\n{ran.tail()}")
        return self.create_database(f"{self.tag}_{label}", template=self._template)

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.admin_uri, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
            admin.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))
        self.databases.append(name)
        return name

    def close(self) -> None:
        self.receiver.close()
        with psycopg.connect(self.admin_uri, autocommit=True) as admin:
            for name in self.databases:
                with suppress(psycopg.Error):
                    admin.execute(f'drop database if exists "{name}" with (force)')

    # --- task processes -------------------------------------------------------------------

    def env(
        self,
        db: str,
        *,
        admin_uri: str | None = None,
        fake_url: str | None = None,
        jira_mode: str = "cloud",
        extra: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """The environment of a task process: the caller's minus its ETL_/AIRFLOW_CONN_ settings, plus ours."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "AIRFLOW_CONN_", "AIRFLOW__"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.root / "airflow"),
                "ETL_HOME": str(self.root / "home"),
                "ETL_BACKUP_DIR": str(self.root / "backups" / db),
                "ETL_LOG_TO_DB": "1",
                "AIRFLOW_CONN_WAREHOUSE": self.warehouse_uri(db, admin_uri),
                "AIRFLOW_CONN_NOTIFY_SLACK": json.dumps(
                    {"conn_type": "slackwebhook", "host": f"{self.receiver.url}/services", "password": SLACK_TOKEN}
                ),
                "AIRFLOW_CONN_NOTIFY_TEAMS": json.dumps(
                    {"conn_type": "http", "host": self.receiver.url, "password": TEAMS_PATH}
                ),
                "AIRFLOW_CONN_NOTIFY_EMAIL": json.dumps(
                    {
                        "conn_type": "smtp",
                        "host": "127.0.0.1",
                        "port": self.smtp_port,
                        "login": "chaos-mailer",
                        "password": SMTP_PASSWORD,
                        "extra": {
                            "from_email": "etl@example.com",
                            "to": "ops@example.com",
                            "disable_ssl": True,
                            "disable_tls": True,
                            "retry_limit": 1,
                            "timeout": 2,
                        },
                    }
                ),
                # the syncs: fast retries, short HTTP timeouts, no Jira safety lag (as the sync tests)
                "ETL_SYNC_HTTP_TIMEOUT": "1",
                "ETL_SYNC_HTTP_ATTEMPTS": "4",
                "ETL_SYNC_MAX_SLEEP_SECONDS": "1.5",
                "ETL_JIRA_SAFETY_LAG_SECONDS": "0",
                "ETL_JIRA_OVERLAP_SECONDS": "300",
                "ETL_SYNC_PAGE_SIZE": "50",
            }
        )
        if fake_url:
            env["AIRFLOW_CONN_GITHUB_DEFAULT"] = json.dumps(
                {"conn_type": "http", "host": fake_url, "password": GITHUB_TOKEN}
            )
            env["AIRFLOW_CONN_JIRA_DEFAULT"] = json.dumps(
                {
                    "conn_type": "http",
                    "host": fake_url,
                    "login": JIRA_LOGIN,
                    "password": JIRA_TOKEN,
                    "extra": {"deployment": jira_mode},
                }
            )
        env.update(extra or {})
        return env

    def log_path(self, label: str) -> Path:
        self._count += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
        return self.logs / f"{self._count:04d}-{safe}.log"

    def etl(self, argv: list[str], *, db: str, label: str, timeout: float = 300, **env_args) -> Ran:
        """Run ``etl -v ARGV`` to its end; its output (stdout and logs) is kept in a log file."""
        return self.popen(argv, db=db, label=label, **env_args).wait(timeout)

    def popen(self, argv: list[str], *, db: str, label: str, **env_args) -> Running:
        log = self.log_path(label)
        out = log.open("w", encoding="utf-8")
        out.write(f"$ etl -v {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(
            [*ETL, *argv], env=self.env(db, **env_args), stdout=out, stderr=subprocess.STDOUT, text=True
        )
        return Running(argv, proc, now(), log, out)
