"""A fault-injecting fake Jira and GitHub on a loopback port, for tests and for trying the syncs.

Example::

    with FakeServer() as srv:
        srv.github.add_repo("acme/api", count=250)
        srv.faults.add(Fault(service="github", kind="http_502", at_request=3))
        ...  # point a sync at srv.url
"""

from __future__ import annotations

from reliable_etl_dev.fakes.faults import Fault
from reliable_etl_dev.fakes.server import FakeServer, RequestRecord, connection_lines, serve

__all__ = ["FakeServer", "Fault", "RequestRecord", "connection_lines", "serve"]
