"""Test helpers shared by the test suite (``tests/``): plain functions and constants, no fixtures.

The fixtures stay in the ``conftest.py`` files and import what they need from here, as the tests
do. This module holds the general helpers; one module per area holds the rest:

- ``reliable_etl_dev.testing.sync``: the fake Jira and GitHub as Connections, their truth and our rows.
- ``reliable_etl_dev.testing.files``: the fixed-width students layout and files.
- ``reliable_etl_dev.testing.dashboard``: known rows for the dashboard's tests, and secrets in them.
- ``reliable_etl_dev.testing.maintenance``: Redis Connections, a closed port, a Slack receiver's state.

``SHARED`` is the data beside the checkout (``../shared``): the real data sets and API schemas,
too large for the repository; the tests that need them skip when it is absent. ``FIXTURE_DAGS``
holds the toy DAGs of the end-to-end tests, real files a test copies into its dags folder.
"""

from __future__ import annotations

import psycopg

from reliable_etl_dev import ROOT, SAMPLE_CSV

__all__ = ["FIXTURE_DAGS", "REAL_CDNOW", "REAL_RETAIL", "SAMPLE_CSV", "SHARED", "table_fingerprint"]

SHARED = ROOT.parent / "shared"
REAL_RETAIL = SHARED / "data" / "online_retail" / "online_retail.csv.gz"
REAL_CDNOW = SHARED / "data" / "fixed_width" / "CDNOW_master.txt.gz"
FIXTURE_DAGS = ROOT / "tests" / "fixtures" / "dags"  # toy DAGs, one a file: the end-to-end tests copy them


def table_fingerprint(conn: psycopg.Connection, table: str) -> tuple[int, str, str]:
    """(rows, md5 of the content, md5 of the row versions): equal xmins prove nothing was rewritten."""
    row = conn.execute(
        f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')),"
        f" md5(coalesce(string_agg(t.xmin::text, ',' order by t.xmin::text), '')) from {table} as t"
    ).fetchone()
    return row[0], row[1], row[2]
