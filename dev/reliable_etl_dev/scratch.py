"""Throwaway PostgreSQL databases for the tests, the benchmarks and the demo.

The server is ETL_TEST_PG_URI if set, else PostgreSQL on 127.0.0.1:5432 when it answers
(and ETL_TEST_EMBEDDED is not 1), else an embedded PostgreSQL (pgserver) in a temporary
directory. Each caller creates databases of its own on it and drops them when done.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg


def _local_pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def server() -> Iterator[tuple[str, str]]:
    """(admin libpq URI, where the server comes from)."""
    if uri := os.environ.get("ETL_TEST_PG_URI"):
        yield uri, "ETL_TEST_PG_URI"
    elif os.environ.get("ETL_TEST_EMBEDDED") != "1" and _local_pg_answers():
        yield "postgresql://postgres@127.0.0.1:5432/postgres", "127.0.0.1:5432"
    else:
        from reliable_etl_dev.warehouse import pgserver

        with tempfile.TemporaryDirectory(prefix="etl_pg_") as tmp:
            embedded = pgserver().get_server(Path(tmp), cleanup_mode="delete")
            try:
                yield embedded.get_uri(), "embedded pgserver"
            finally:
                embedded.cleanup()


def create_database(admin_uri: str, name: str | None = None, *, prefix: str = "etl_test") -> str:
    """Create (or re-create) a database; return its name."""
    name = name or f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    return name


def ensure_database(admin_uri: str, name: str) -> str:
    """Create a database unless it exists; return its name."""
    with psycopg.connect(admin_uri, autocommit=True) as admin:
        if not admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            admin.execute(f'create database "{name}"')
    return name


def drop_database(admin_uri: str, name: str, *, attempts: int = 30) -> None:
    """Drop a database, its sessions ended; a server still recovering from a test's crash is waited for."""
    for attempt in range(attempts):
        try:
            with psycopg.connect(admin_uri, autocommit=True, connect_timeout=5) as admin:
                admin.execute(f'drop database if exists "{name}" with (force)')
            return
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(1)


@contextmanager
def database(admin_uri: str, *, prefix: str = "etl_test") -> Iterator[str]:
    """A database of its own for the duration of the block; yields its name."""
    name = create_database(admin_uri, prefix=prefix)
    try:
        yield name
    finally:
        drop_database(admin_uri, name)


def airflow_conn_uri(admin_uri: str, dbname: str) -> str:
    """The database as an Airflow connection URI (a socket directory URL-encoded in the host)."""
    info = psycopg.conninfo.conninfo_to_dict(admin_uri)
    host = info.get("host", "127.0.0.1")
    host_part = host.replace("/", "%2F") if host.startswith("/") else f"{host}:{info.get('port', 5432)}"
    return f"postgresql://{info.get('user', 'postgres')}@{host_part}/{dbname}"


def sqlalchemy_uri(admin_uri: str, dbname: str) -> str:
    """The database as a SQLAlchemy URL, for Airflow's own metadata."""
    info = psycopg.conninfo.conninfo_to_dict(admin_uri)
    host, user = info.get("host", "127.0.0.1"), info.get("user", "postgres")
    if host.startswith("/"):
        return f"postgresql+psycopg2://{user}@/{dbname}?host={host}"
    return f"postgresql+psycopg2://{user}@{host}:{info.get('port', 5432)}/{dbname}"


def libpq_uri(admin_uri: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(admin_uri, dbname=dbname)


class PrivateServer:
    """A PostgreSQL server of its own (pgserver's binaries, a data directory, a socket) to break on purpose.

    For fault tests and the chaos suite: ``stop("immediate")`` is a crash (no checkpoint,
    recovery at the next start), ``restart(down_seconds)`` an outage. Needs no system
    PostgreSQL; as root the server runs as pgserver's own user.

        with PrivateServer(tmp_path / "pg") as srv:
            srv.uri            # libpq URI of its `postgres` database
            srv.restart(1.0)
    """

    def __init__(self, data_dir: Path) -> None:
        from reliable_etl_dev.warehouse import pgserver

        self.data_dir = Path(data_dir)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._pgserver = pgserver()
        server = self._pgserver.get_server(self.data_dir, cleanup_mode=None)
        self.uri = server.get_uri()
        self.socket_dir = psycopg.conninfo.conninfo_to_dict(self.uri)["host"]
        self._user = "pgserver" if os.geteuid() == 0 else None

    def __enter__(self) -> PrivateServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _pg_ctl(self, *args: str) -> None:
        self._pgserver._commands.pg_ctl(list(args), pgdata=self.data_dir, user=self._user, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """``fast`` (clean shutdown) or ``immediate`` (a crash: clients cut off, recovery on start)."""
        self._pg_ctl("-w", "stop", "-m", mode)

    def start(self) -> None:
        log = str(self.data_dir / "log")
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")

    def restart(self, down_seconds: float = 1.0, mode: str = "immediate") -> None:
        """Stop (a crash by default), stay down ``down_seconds``, start again."""
        import time

        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def close(self) -> None:
        """Stop the server; the data directory is left for the caller's temporary directory."""
        import subprocess

        if self.is_running():
            with suppress(subprocess.CalledProcessError):
                self.stop("immediate")
