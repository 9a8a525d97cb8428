"""What `etl sync status` and `etl sync metrics` show: the progress view and the recovery metrics."""

from __future__ import annotations

from psycopg.rows import dict_row

from reliable_etl import db


def progress(service: str | None = None) -> list[dict]:
    """One row per entity of ops.sync_progress."""
    with (
        db.connect(autocommit=True, application_name="etl sync status") as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        return cur.execute(db.load_sql("sync/select_sync_progress"), {"service": service}).fetchall()


def recovery_metrics() -> list[dict]:
    """One row per service of ops.sync_recovery_metrics."""
    with (
        db.connect(autocommit=True, application_name="etl sync metrics") as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        return cur.execute(db.load_sql("sync/select_sync_recovery_metrics")).fetchall()


def format_progress(rows: list[dict]) -> str:
    if not rows:
        return "nothing synced yet"
    lines = [
        f"{'service':<7} {'entity':<28} {'status':<11} {'mode':<11} {'phase':<9} {'pages':>6} {'items':>8}"
        f" {'skip':>5} {'warn':>5} {'cost':>6} {'api':>7} {'ours':>7}  next retry / last error"
    ]
    for r in rows:
        note = r["next_retry_at"].strftime("%Y-%m-%d %H:%M:%S") if r["next_retry_at"] else ""
        if r["last_error"]:
            note = f"{note} {r['last_error'][:80]}".strip()
        if r["needs_attention"]:
            note = "NEEDS ATTENTION: " + note
        lines.append(
            f"{r['service']:<7} {r['entity']:<28} {r['status']:<11} {r['mode'] or '':<11} {r['phase'] or '':<9}"
            f" {r['pages']:>6} {r['items']:>8} {r['skipped']:>5} {r['warnings']:>5} {r['api_cost']:>6}"
            f" {_n(r['api_count']):>7} {_n(r['db_count']):>7}  {note}"
        )
    return "\n".join(lines)


def format_metrics(rows: list[dict]) -> str:
    if not rows:
        return "no sync has run yet"
    return "\n".join(
        f"{r['service']}: {r['total_recoveries']} recoveries, {r['successful_recoveries']} successful,"
        f" average recovery {_n(r['avg_recovery_seconds'])} s; data consistency"
        f" {r['entities_consistent']}/{r['entities_reconciled']} entities"
        + (f" ({float(r['data_consistency']):.0%})" if r["data_consistency"] is not None else "")
        for r in rows
    )


def _n(value: object) -> str:
    return "-" if value is None else str(value)
