"""The suite's own tools: row-multiset diffs, the secret search, the report and its doc block."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest

from chaos import report
from chaos.cases.secrets import scan_database, scan_text
from chaos.compare import diff
from chaos.workspace import GITHUB_TOKEN, JIRA_TOKEN, secret_forms

pytestmark = pytest.mark.chaos


def test_a_diff_counts_rows_lost_and_rows_beyond_the_clean_run():
    clean = {"t": Counter({"a": 1, "b": 2}), "u": Counter({"x": 1})}
    got = {"t": Counter({"a": 1, "b": 3, "c": 1}), "u": Counter()}
    found = diff(clean, got)
    assert (found.lost, found.extra, found.tables) == (1, 2, ["t", "u"])
    assert diff(clean, clean).equal


def test_the_search_finds_each_secret_in_its_shapes_and_never_reports_the_value():
    encoded = secret_forms()["Jira API token"]
    assert any("%" not in form and form != JIRA_TOKEN for form in encoded)  # the Basic auth header
    assert scan_text(f"Authorization: Basic {encoded[0]}", "log") == [{"where": "log", "secret": "Jira API token"}]
    assert scan_text("nothing here", "log") == []


def test_a_secret_in_any_table_is_found(conn: psycopg.Connection):
    conn.execute("create schema if not exists chaos_probe")
    conn.execute("create table chaos_probe.t (id int, note jsonb)")
    try:
        conn.execute("insert into chaos_probe.t values (1, %s)", (f'{{"error": "token {GITHUB_TOKEN}"}}',))
        found = [f for f in scan_database(conn, "db") if f["where"] == "db:chaos_probe.t"]
        assert found == [{"where": "db:chaos_probe.t", "secret": "GitHub token", "rows": 1}]
        assert GITHUB_TOKEN not in repr(found)
    finally:
        conn.execute("drop schema chaos_probe cascade")


def test_the_doc_block_is_replaced_and_the_rest_kept(tmp_path):
    doc = tmp_path / "RELIABILITY.md"
    doc.write_text(f"# Title\n\nintro\n{report.BEGIN}\nold table\n{report.END}\n\nafter\n")
    case = report.CaseResult("broker", "Broker", "inv.", "clock.", skipped="no Celery")
    meta = {"command": "c", "seed": 1, "mode": "CI", "commit": "abc", "date": "d", "duration": "1 s",
            "machine": "m", "postgres": "15"}  # fmt: skip
    report.update_doc(doc, report.markdown(meta, [case]))
    text = doc.read_text()
    assert text.startswith("# Title\n\nintro\n")
    assert text.endswith(f"{report.END}\n\nafter\n")
    assert "old table" not in text
    assert "| Broker | skipped: no Celery |" in text
