"""The embedded default warehouse of the bench: PostgreSQL from the pgserver wheel, in ``.etl/pgdata``.

`make demo`, `make up` and the ``etl`` command in a checkout need no server: with no ``warehouse``
Connection, ``reliable_etl.db`` asks the entry point group ``reliable_etl.default_warehouse``
for one, and this package answers with `default_warehouse` (a server started on first use that
keeps running for the Airflow task processes). Production has no such fallback: a missing
Connection is an error naming it.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
import warnings
from pathlib import Path

from reliable_etl_dev import dev_home

log = logging.getLogger(__name__)
logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every pg_ctl call at INFO


def data_dir() -> Path:
    return dev_home() / "pgdata"


def pgserver():
    """The pgserver module (PostgreSQL 16 in a wheel)."""
    with warnings.catch_warnings():  # platformdirs warns that XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver
        import pgserver._commands

    return pgserver


def start() -> str:
    """Start (or reuse) the embedded PostgreSQL; its Airflow connection URI (database ``postgres``).

    The server keeps running after this process exits (``cleanup_mode=None``), so that Airflow's
    task processes share it; `stop` (``make down``) ends it.
    """
    directory = data_dir()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver().get_server(directory, cleanup_mode=None)
    socket_dir = urllib.parse.parse_qs(urllib.parse.urlparse(server.get_uri()).query)["host"][0]
    return f"postgresql://postgres@{urllib.parse.quote(socket_dir, safe='')}/postgres"


def stop() -> bool:
    """Stop the embedded PostgreSQL if it runs; True if it was stopped."""
    directory = data_dir()
    if not (directory / "postmaster.pid").exists():
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    pgserver()._commands.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=directory, user=user)
    return True


def default_warehouse() -> str:
    """The ``reliable_etl.default_warehouse`` entry point: the embedded server's URI, started if needed."""
    uri = start()
    log.info("no warehouse Connection configured: using the embedded PostgreSQL in %s", data_dir())
    return uri
