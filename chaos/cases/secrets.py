"""Secrets, after the whole suite: no password, token or webhook secret in any task log, table or backup.

Every task process of the suite had Connections holding distinctive fake secrets (see
chaos.workspace). This case searches, for each secret in every shape it could take
(as is, URL-encoded, inside a Basic auth header):

- every task log: the output of every `etl -v` process the suite ran (its logs included),
  and the task logs of any real Airflow it ran;
- every table of every database the suite created (ops, data, snapshots: all schemas);
- a verified backup (``reliable_etl.maintenance.backup``, the `etl backup` module) of one database per
  case, read back with pg_restore: its SQL text and its manifest;
- every notification body the Slack/Teams stand-in received.

A canary (a secret planted in a scratch text) proves first that the search finds what it looks for.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

from chaos.report import CaseResult, Trial
from chaos.workspace import GITHUB_TOKEN, secret_forms

BACKUP_SCHEMAS = "ops,gold,sync,files,silver"


def _patterns() -> list[tuple[str, str]]:
    return [(name, form) for name, forms in secret_forms().items() for form in forms]


def scan_text(text: str, where: str) -> list[dict]:
    """The secrets found in ``text`` (their names and where, never their values)."""
    return [{"where": where, "secret": name} for name, form in _patterns() if form in text]


def scan_database(conn: psycopg.Connection, where: str) -> list[dict]:
    """Every table of every schema, each row as text, searched once for all the secrets."""
    patterns = _patterns()
    tables = conn.execute(
        "select schemaname, tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema')"
    ).fetchall()
    findings = []
    for schema, table in tables:
        counts = pgsql.SQL(", ").join(
            pgsql.SQL("count(*) filter (where strpos(x, {}) > 0)").format(pgsql.Literal(form)) for _, form in patterns
        )
        query = pgsql.SQL("select {} from (select t::text as x from {} as t) as rows").format(
            counts, pgsql.Identifier(schema, table)
        )
        row = conn.execute(query).fetchone()
        findings += [
            {"where": f"{where}:{schema}.{table}", "secret": name, "rows": n}
            for (name, _), n in zip(patterns, row, strict=True)
            if n
        ]
    return findings


def _canary() -> bool:
    planted = f"error: bad credentials {GITHUB_TOKEN} for https://example.com"
    return bool(scan_text(planted, "canary"))


def _backup(ctx, db: str) -> Path | None:
    """A verified backup of ``db`` by the maintenance job's code, as a task process makes it."""
    ws = ctx.ws
    code = "from reliable_etl.maintenance.backup import backup_critical_data as b; print('BACKUP', b().backup_location)"
    log = ws.log_path(f"backup-{db}")
    env = ws.env(db, extra={"ETL_BACKUP_SCHEMAS": BACKUP_SCHEMAS})
    with log.open("w", encoding="utf-8") as out:
        subprocess.run(
            [sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=300
        )
    found = re.search(r"^BACKUP (\S+)$", log.read_text(encoding="utf-8"), re.MULTILINE)
    return Path(found.group(1)) if found and found.group(1) != "None" else None


def _backup_text(directory: Path) -> str:
    from reliable_etl.maintenance.backup import ARCHIVE, MANIFEST, available_binaries

    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    found = available_binaries(None)
    major = min((m for m in found if m >= int(manifest["pg_dump_major"])), default=None)
    if major is None:
        raise RuntimeError(f"no pg_restore {manifest['pg_dump_major']} or newer")
    restored = subprocess.run(
        [str(found[major] / "pg_restore"), "--file=-", str(directory / ARCHIVE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return json.dumps(manifest) + "\n" + restored


def _per_case(databases: list[str], tag: str) -> list[str]:
    """The last database of each kind of trial (kill3 and kill7 are one kind): the warehouses the faults hit."""
    chosen: dict[str, str] = {}
    for name in databases:
        label = name.removeprefix(f"{tag}_")
        if not label.startswith(("clean_", "template", "airflow_meta")):
            chosen[label.rstrip("0123456789_")] = name
    return list(chosen.values())


def secrets(ctx) -> CaseResult:
    case = CaseResult(
        "secrets",
        "Secrets",
        "none of the configured secrets (warehouse password, GitHub token, Jira token and its Basic auth"
        " header, Slack and Teams webhook secrets, SMTP and Redis passwords; as is and URL-encoded) appears"
        " anywhere.",
        "not applicable.",
    )
    ws = ctx.ws
    if not _canary():
        case.trials.append(Trial("canary", False, None, None, detail="the search did not find a planted secret"))
        return case
    backed_up = _per_case(ws.databases, ws.tag)
    backups, backup_findings, failed = 0, [], []
    for db in backed_up:
        directory = _backup(ctx, db)
        if directory is None:
            failed.append(db)
            continue
        backups += 1
        backup_findings += scan_text(_backup_text(directory), f"backup of {db}")
    logs = sorted(ws.logs.glob("*.log")) + [p for d in ws.airflow_logs for p in Path(d).rglob("*") if p.is_file()]
    log_findings = [
        f for path in logs for f in scan_text(path.read_text(encoding="utf-8", errors="replace"), path.name)
    ]
    table_findings = list(ws.findings)
    for db in ws.databases:
        with ws.connect(db) as conn:
            table_findings += scan_database(conn, db)
    posts = [f for path, body in ws.receiver.posts for f in scan_text(body.decode(errors="replace"), path)]
    # the secret is in the path a webhook is posted to, by design; its bodies must not carry it
    slack_posts = sum(1 for path, _ in ws.receiver.posts if path.startswith("/services/"))
    rows = [
        ("task logs", len(logs), log_findings, {}),
        ("ops and data tables", len(ws.databases) + len(ws.extra_scans), table_findings, {}),
        ("backups (pg_restore text and manifest)", backups, backup_findings, {"failed_backups": failed}),
        ("notification bodies", len(ws.receiver.posts), posts, {"slack_webhook_posts": slack_posts}),
    ]
    for fault, scanned, findings, extra in rows:
        where = sorted({f"{f['secret']} in {f['where']}" for f in findings})
        problems = where[:20]
        if extra.get("failed_backups"):
            problems.append(f"no backup of {extra['failed_backups']}")
        if not scanned and fault in ("task logs", "ops and data tables"):
            problems.append("nothing to scan")
        params = {"scanned": scanned, "findings": len(findings), **extra}
        case.trials.append(Trial(fault, not problems, None, None, None, params, "; ".join(problems)))
    return case


CASES = {"secrets": secrets}
