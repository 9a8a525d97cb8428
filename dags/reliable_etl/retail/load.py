"""One day of retail data: bronze -> validation -> silver, in ONE transaction.

The day's unit holds the advisory lock ``retail:day:D`` and a shared lock on its month,
so gold for that month never reads a half-written day. If the day's reject rate is above
the threshold nothing of the day is committed; its rejects are still recorded in
ops.rejected_rows (in their own transaction) so the failure can be diagnosed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

from reliable_etl import db, failpoints
from reliable_etl.config import settings
from reliable_etl.errors import BadInputError
from reliable_etl.ops.logs import PipelineLogger
from reliable_etl.ops.runs import pipeline_run, record_run
from reliable_etl.ops.units import unit_of_work
from reliable_etl.retail import HEADER, PIPELINE
from reliable_etl.retail.landing import LandingFile, file_sha256, inspect_file, landing_path
from reliable_etl.retry import retrying

_COLUMNS = dict(
    zip(
        ("invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country"),
        HEADER,
        strict=True,
    )
)


DAY_LOGIC = ("retail/create_day_rows", "retail/upsert_silver_day")  # the validation rules and silver's shape


@cache
def day_logic_fingerprint() -> str:
    """The fingerprint of the rules a day is loaded with (the text of ``DAY_LOGIC``), kept per day in
    ``silver.day_fingerprint``: a day loaded with other rules is stale (``stale_days``)."""
    digest = hashlib.sha256()
    for name in DAY_LOGIC:
        digest.update(f"{name}\0{db.load_sql(name)}\0".encode())
    return digest.hexdigest()[:32]


def stale_days() -> list[dt.date]:
    """Loaded days whose rules changed since (or that were loaded before rules were recorded), in order."""

    def read() -> list[dt.date]:
        with db.transaction(application_name="etl retail stale") as conn:
            rows = db.run_sql(conn, "retail/select_stale_days", {"logic_fingerprint": day_logic_fingerprint()})
            return [row[0] for row in rows.fetchall()]

    return retrying(what="stale days")(read)


@dataclass(frozen=True)
class Restatement:
    """A loaded day whose landing file now holds other bytes than the ones loaded."""

    day: dt.date
    loaded_sha256: str
    landing_sha256: str

    def __str__(self) -> str:
        return f"{self.day} (loaded {self.loaded_sha256[:12]}, landing now {self.landing_sha256[:12]})"


def restated_days(landing_dir: Path | None = None) -> list[Restatement]:
    """Loaded days whose landing file was delivered again with other bytes, in order.

    Every landing file of a loaded day is hashed (about 0.1 s for the year's 45 MB): a size or
    modification time would miss a correction of the same length written with its old mtime.
    A day whose file is gone (archived, cleaned up) is not judged.
    """
    landing_dir = Path(landing_dir or settings().retail_landing_dir)

    def read() -> list[tuple[dt.date, str]]:
        with db.transaction(application_name="etl retail restated") as conn:
            return db.run_sql(conn, "retail/select_loaded_sources").fetchall()

    restated = []
    for day, loaded in retrying(what="loaded days")(read):
        path = landing_path(landing_dir, day)
        if path.is_file() and (now := file_sha256(path)) != loaded:
            restated.append(Restatement(day, loaded, now))
    return restated


class RejectRateExceededError(BadInputError):
    """Too many rows of a day's file were rejected; the day was not committed."""

    def __init__(self, message: str, rejects: list[tuple[int, str, str]]) -> None:
        super().__init__(message)
        self.rejects = rejects


@dataclass(frozen=True)
class DayResult:
    day: dt.date
    file_name: str
    sha256: str
    bronze_skipped: bool  # the same bytes were already in bronze
    rows_in: int
    accepted: int
    rejected: int
    silver_written: int

    def as_dict(self) -> dict:
        return {**asdict(self), "day": self.day.isoformat()}


def day_lock(day: dt.date) -> str:
    return f"retail:day:{day.isoformat()}"


def month_lock(day: dt.date) -> str:
    return f"retail:month:{day:%Y-%m}"


def load_bronze(conn: psycopg.Connection, day: dt.date, landing: LandingFile, *, run_id: str) -> tuple[int, bool]:
    """Replace day D in bronze with the file's rows (COPY); a no-op if the same bytes are there.

    Returns (rows in bronze for D, skipped).
    """
    stored = db.run_sql(conn, "retail/select_bronze_file", {"day": day}).fetchone()
    if stored and stored[1] == landing.sha256:
        return stored[2], True
    parts = {"partition": pgsql.Identifier("bronze", f"retail_sales_{day:%Y%m%d}"), "day": pgsql.Literal(day)}
    conn.execute(db.composed_sql("retail/create_bronze_day", **parts))
    conn.execute(db.composed_sql("retail/truncate_bronze_day", **parts))
    try:
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(db.composed_sql("retail/copy_bronze_sales", **parts)) as copy, landing.path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            rows = cur.rowcount
    except psycopg.errors.DataError as exc:
        raise BadInputError(_describe_copy_error(landing.path, exc)) from None
    db.run_sql(
        conn,
        "retail/upsert_bronze_file",
        {
            "day": day,
            "file_name": landing.path.name,
            "sha256": landing.sha256,
            "size_bytes": landing.size_bytes,
            "row_count": rows,
            "run_id": run_id,
        },
    )
    failpoints.reach("retail.bronze.copied")  # the chaos suite: bronze of the day copied, nothing else yet
    return rows, False


def _describe_copy_error(path: Path, exc: psycopg.Error) -> str:
    """'FILE: line N: what is wrong', in the file's own column names."""
    context = exc.diag.context or ""
    line = re.search(r"line (\d+)", context)
    message = exc.diag.message_primary or str(exc)
    for column, name in _COLUMNS.items():
        message = message.replace(f'"{column}"', name)
    if isinstance(exc, psycopg.errors.CharacterNotInRepertoire | psycopg.errors.UntranslatableCharacter):
        message = f"not UTF-8: {message}"
    number = line.group(1) if line else "?"
    if message.startswith("unterminated CSV quoted field"):
        # PostgreSQL reports the end of the file, where it gave up; point at the opening quote
        number = str(_open_quote_line(path) or number)
    return f"{path}: line {number}: {message}"


def _open_quote_line(path: Path) -> int | None:
    """The line whose quote is never closed, read as COPY reads CSV (every '"' toggles)."""
    start, in_quote = None, False
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if not in_quote:
                start = number
            if raw.count(b'"') % 2:
                in_quote = not in_quote
    return start if in_quote else None


def load_day(
    day: dt.date, *, run_id: str, landing_dir: Path | None = None, threshold: float | None = None
) -> DayResult:
    """Bronze, validation and silver for one day, retried as a whole on transient errors."""
    cfg = settings()
    landing_dir = Path(landing_dir or cfg.retail_landing_dir)
    threshold = cfg.retail_reject_threshold if threshold is None else threshold
    log = PipelineLogger(PIPELINE, run_id, stage="day")
    with pipeline_run(PIPELINE, run_id, log=log, closes=False, metadata={"day": day.isoformat()}):
        try:
            landing = inspect_file(landing_path(landing_dir, day))
            result = retrying(log=log, what=f"day {day}")(
                _load_day_once, day, landing, run_id=run_id, threshold=threshold, log=log
            )
        except RejectRateExceededError as exc:
            _record_failed_rejects(day, landing.path.name, exc.rejects, run_id=run_id, log=log)
            raise
    log.info(
        "day %s loaded: %d rows, %d accepted, %d rejected%s",
        day,
        result.rows_in,
        result.accepted,
        result.rejected,
        " (same file as before: bronze untouched)" if result.bronze_skipped else "",
        metadata=result.as_dict(),
    )
    return result


def _load_day_once(
    day: dt.date, landing: LandingFile, *, run_id: str, threshold: float, log: PipelineLogger
) -> DayResult:
    with unit_of_work(PIPELINE, run_id, day.isoformat(), log=log, lock=day_lock(day)) as unit:
        conn = unit.conn
        db.advisory_lock(conn, month_lock(day), shared=True)

        with unit.stage("bronze") as cp:
            rows, skipped = load_bronze(conn, day, landing, run_id=run_id)
            cp.value = landing.sha256
            cp.metadata.update(file=landing.path.name, rows=rows, skipped=skipped)

        with unit.stage("validate") as cp:
            db.run_sql(conn, "retail/create_day_rows", {"day": day})
            total, rejected = db.run_sql(conn, "retail/summarize_day_rows").fetchone()
            rate = rejected / total if total else 0.0
            cp.metadata.update(rows=total, rejected=rejected, reject_rate=round(rate, 6), threshold=threshold)
            if rate > threshold:
                rejects = db.run_sql(conn, "retail/select_day_rejects").fetchall()
                raise RejectRateExceededError(_reject_summary(landing.path, total, rejects, threshold), rejects)

        with unit.stage("silver") as cp:
            rejects = db.run_sql(
                conn, "retail/upsert_rejected_rows", {"day": day, "source": landing.path.name, "run_id": run_id}
            ).fetchone()
            accepted, deleted, written = db.run_sql(conn, "retail/upsert_silver_day", {"day": day}).fetchone()
            db.run_sql(
                conn,
                "retail/upsert_day_fingerprint",
                {"day": day, "sha256": landing.sha256, "logic_fingerprint": day_logic_fingerprint()},
            )
            cp.metadata.update(accepted=accepted, written=written, deleted=deleted, rejects_written=sum(rejects))

        record_run(
            conn, PIPELINE, run_id, status="running", records_in=total, records_out=accepted, records_rejected=rejected
        )
        failpoints.reach("retail.day.written")  # the crash tests: all of the day written, not committed
    return DayResult(day, landing.path.name, landing.sha256, skipped, total, accepted, rejected, written + deleted)


def _reject_summary(path: Path, total: int, rejects: list[tuple[int, str, str]], threshold: float) -> str:
    reasons: dict[str, int] = {}
    for _, _, reason in rejects:
        key = re.sub(r": .*", "", reason)  # "reason: value"; the reason itself may hold "HH:MM"
        reasons[key] = reasons.get(key, 0) + 1
    top = "; ".join(f"{n} x {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:3])
    line, _, reason = rejects[0]
    return (
        f"{path}: {len(rejects)} of {total} rows rejected ({len(rejects) / total:.1%} > {threshold:.1%} allowed);"
        f" nothing of the day was committed. {top}. First: line {line}: {reason}"
    )


def _record_failed_rejects(
    day: dt.date, source: str, rejects: list[tuple[int, str, str]], *, run_id: str, log: PipelineLogger
) -> None:
    """Keep the rejects of a failed day for diagnosis (the day's data stays uncommitted)."""

    def write() -> None:
        with db.transaction(application_name="etl retail rejects") as conn, conn.cursor() as cur:
            cur.executemany(
                db.load_sql("retail/upsert_failed_reject"),
                [
                    {
                        "source": source,
                        "line": line,
                        "raw": raw,
                        "reason": reason,
                        "day": day.isoformat(),
                        "run_id": run_id,
                    }
                    for line, raw, reason in rejects
                ],
            )

    try:
        retrying(log=log, what=f"rejects of day {day}", attempts=3)(write)
    except psycopg.Error:
        log.warning("could not keep the %d rejects of day %s in ops.rejected_rows", len(rejects), day)
