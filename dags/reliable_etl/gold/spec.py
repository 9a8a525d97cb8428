"""The description of a gold unit: its SQL files, kind, lock and parameters (see reliable_etl.gold.publish).

Light on imports on purpose: DAG files build a GoldSpec when they are parsed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reliable_etl.config import settings
from reliable_etl.errors import BadInputError
from reliable_etl.ops.checks import Check, CheckResult

KINDS = ("month", "day", "key")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")  # a table or column name, quoted wherever SQL is composed


@dataclass(frozen=True)
class UnitResult:
    """What publishing one unit did."""

    unit: str
    action: str  # computed | unchanged | empty | open | would compute | would skip
    input_rows: int = 0
    rows_written: int = 0
    fingerprint: str | None = None  # of the input the unit was computed from
    reason: str | None = (
        None  # why it is (or would be) computed: new | input changed | logic changed | failed before | reset
    )
    checks: tuple[CheckResult, ...] = ()  # the audit of what was published

    @property
    def changed(self) -> bool:
        """True when this call wrote or deleted gold rows (only then is an Asset event due)."""
        return self.action == "computed" and self.rows_written > 0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["checks"] = {check.name: check.label for check in self.checks}
        return data


@dataclass(frozen=True)
class GoldSpec:
    """How to publish a unit of gold tables: SQL file names (see the module docstring).

    A name is relative to ``sql_dir`` (default ``ETL_SQL_DIR``, the package's ``sql`` folder),
    with or without ``.sql``; an absolute path is taken as it is.
    """

    pipeline: str
    tables: tuple[str, ...] = ()
    kind: str = "month"
    fingerprint_sql: str | None = None
    input_sql: str | None = None
    reset_sql: str | None = None
    create_sql: str | None = None  # DDL creating the tables if they do not exist: several statements, no parameters
    checks: tuple[Check, ...] = ()  # audited before the commit (write-audit-publish): reliable_etl.ops.checks
    lock: str = "{pipeline}:{kind}:{unit}"  # the unit's advisory lock, formatted with these names
    sql_dir: Path | None = None
    params: dict = field(default_factory=dict)
    # a model: one SELECT of the unit's rows; the upsert, the deletes and the table are derived
    model_sql: str | None = None
    target: str | None = None  # schema.table
    key: tuple[str, ...] = ()  # the target's primary key
    unit_column: str | None = None  # the target's column holding the unit (its rows are the unit's)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", tuple(self.tables))
        object.__setattr__(self, "key", tuple(self.key))
        checks = (check if isinstance(check, Check) else Check(**check) for check in self.checks)
        object.__setattr__(self, "checks", tuple(checks))
        where = f"gold {self.pipeline or '?'}"
        if not self.pipeline:
            raise ValueError(f"{where}: needs a pipeline name")
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind must be one of {KINDS}, not {self.kind!r}")
        if bool(self.tables) == bool(self.model_sql):
            raise ValueError(f"{where}: give either table SQL files (tables) or one model SELECT (model_sql)")
        if self.fingerprint_sql and self.input_sql:
            raise ValueError(f"{where}: give at most one of fingerprint_sql and input_sql")
        if self.tables and not (self.fingerprint_sql or self.input_sql):
            raise ValueError(f"{where}: table SQL files need fingerprint_sql or input_sql (the unit's input)")
        if self.model_sql:
            schema, _, table = (self.target or "").partition(".")
            names = [schema, table, *self.key, self.unit_column or ""]
            if not self.key or not all(NAME.match(name) for name in names):
                raise ValueError(
                    f"{where}: a model needs target 'schema.table', key columns and unit_column, as plain names"
                )
            if self.unit_column not in self.key:
                raise ValueError(f"{where}: unit_column {self.unit_column!r} must be one of the key columns")
        self.check_files()  # a DAG naming a file that is not there fails when it is parsed, naming the file

    # -- SQL files -----------------------------------------------------------------------

    def path(self, name: str) -> Path:
        candidate = Path(name if name.endswith(".sql") else f"{name}.sql")
        return candidate if candidate.is_absolute() else (self.sql_dir or settings().sql_dir) / candidate

    def text(self, name: str) -> str:
        try:
            return self.path(name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInputError(f"gold {self.pipeline}: no SQL file {self.path(name)}") from None

    @property
    def files(self) -> tuple[str, ...]:
        """Every SQL file the unit runs, in a fixed order."""
        names = (self.create_sql, self.fingerprint_sql, self.input_sql, self.model_sql, *self.tables, self.reset_sql)
        return tuple(name for name in (*names, *(check.sql for check in self.checks)) if name is not None)

    def check_files(self) -> None:
        """Fail early, naming the file, if a named SQL file does not exist."""
        for name in self.files:
            if not self.path(name).is_file():
                raise BadInputError(f"gold {self.pipeline}: no SQL file {self.path(name)}")

    @property
    def logic_fingerprint(self) -> str:
        """What shapes the unit's result besides its input: the text of every SQL file and the spec.

        Stored with each published unit: a unit whose logic changed since is published again,
        like one whose input changed. Read from the files at each call (a fraction of a
        millisecond: bench/bench_logic.py), so an edited file counts at once.
        """
        digest = hashlib.sha256()
        for name in self.files:
            digest.update(f"{name}\0{self.text(name)}\0".encode())
        shape = {"kind": self.kind, "target": self.target, "key": self.key, "unit_column": self.unit_column}
        shape["checks"] = [(check.name, check.severity) for check in self.checks]
        digest.update(json.dumps({**shape, "params": self.params}, sort_keys=True, default=str).encode())
        return digest.hexdigest()[:32]

    @property
    def publishes(self) -> str:
        """What the unit publishes, its ledger rows' ``target``: the model's table, or the table files.

        Several gold operators of one pipeline each keep their own ledger rows by it.
        """
        return self.target if self.model_sql else ",".join(name.removesuffix(".sql") for name in self.tables)

    # -- a unit ----------------------------------------------------------------------------

    def lock_for(self, unit: str) -> str:
        return self.lock.format(pipeline=self.pipeline, kind=self.kind, unit=unit)

    def unit_params(self, unit: str) -> dict:
        """The bound parameters of one unit (its key, and its bounds for months and days)."""
        params: dict = {"unit_key": unit, "unit_kind": self.kind, "pipeline_name": self.pipeline}
        if self.kind == "month":
            match = MONTH.match(unit)
            if not match or not 1 <= int(match[2]) <= 12:
                raise BadInputError(f"gold {self.pipeline}: {unit!r} is not a month (YYYY-MM)")
            year, month = int(match[1]), int(match[2])
            start = dt.date(year, month, 1)
            end = dt.date(year + month // 12, month % 12 + 1, 1)
            params.update(month_key=unit, year=year, month=month, month_start=start, month_end=end)
        elif self.kind == "day":
            try:
                day = dt.date.fromisoformat(unit)
            except ValueError:
                raise BadInputError(f"gold {self.pipeline}: {unit!r} is not a day (YYYY-MM-DD)") from None
            params.update(day=day, day_end=day + dt.timedelta(days=1))
        return {**self.params, **params}

    def unit_end(self, unit: str) -> dt.date | None:
        """The first day after a month or day unit (None for other kinds)."""
        params = self.unit_params(unit)
        return params.get("month_end") or params.get("day_end")

    @property
    def ledger(self) -> str:
        return "month" if self.kind == "month" else "unit"
