"""`etl files status`: the last runs, their averages, and a health level."""

from __future__ import annotations

from psycopg.rows import dict_row

from reliable_etl import db
from reliable_etl.files import PIPELINE
from reliable_etl.files.load import FileResult
from reliable_etl.notify import RunReport
from reliable_etl_plugin.grading import health

PIPELINE_NAME = "files_nightly"  # the name notifications carry: the DAG's


def recent_runs(limit: int = 10) -> list[dict]:
    with db.connect(autocommit=True, application_name="etl files") as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            db.load_sql("files/select_recent_runs"), {"pipeline_name": PIPELINE, "batch_size": limit}
        ).fetchall()


def format_status(runs: list[dict]) -> str:
    h = health(runs)
    lines = [
        f"health: {h.level.upper()} over the last {h.runs} runs: {h.failed_share:.0%} failed, "
        f"average error rate {h.avg_error_rate:.2%} (healthy below 20% / 10%, unhealthy above 50% / 20%)",
        f"averages: {h.avg_duration_s:.1f} s, {h.avg_records:,.0f} records per run",
        "",
        f"{'run':<44} {'status':<8} {'started (UTC)':<19} {'seconds':>8} {'records':>9} {'loaded':>9} "
        f"{'rejected':>8} {'error':>7}",
    ]
    for r in runs:
        lines.append(
            f"{r['run_id'][:44]:<44} {r['status']:<8} {r['started_at']:%Y-%m-%d %H:%M:%S} "
            f"{(r['duration_ms'] or 0) / 1000:>8.1f} {r['records_in']:>9,} {r['records_out']:>9,} "
            f"{r['records_rejected']:>8,} {r['error_rate']:>7.2%}" + (f"  {r['error'][:100]}" if r["error"] else "")
        )
    if not runs:
        lines.append("no run yet")
    return "\n".join(lines)


def run_report(
    run_id: str, status: str, results: list[FileResult], *, duration_s: float | None = None, url: str | None = None
) -> RunReport:
    """The notification of a run from its files' results."""
    loaded = [r for r in results if r.status == "loaded"]
    records = sum(r.records for r in results)
    rejected = sum(r.rejected for r in results)
    failed = [r for r in results if r.status in {"failed", "refused"}]
    summary = f"{len(loaded)} of {len(results)} files loaded, {rejected:,} of {records:,} records rejected"
    if records:
        summary += f" ({rejected / records:.2%})"
    if failed:
        summary += f"; {len(failed)} not loaded: {', '.join(r.file for r in failed)}"
    if not results:
        summary = "no file to load"
    items = [
        {
            "file": r.file,
            "table": ", ".join(r.tables),
            "records": r.records,
            "loaded": r.loaded,
            "rejected": r.rejected,
            "error_rate": r.error_rate,
            "snapshot": ", ".join(r.snapshots) or None,
            "status": r.status,
            "error": r.error,
            "warnings": r.warnings or None,
        }
        for r in results
    ]
    return RunReport(PIPELINE_NAME, run_id, status, summary, items, duration_s=duration_s, url=url)
