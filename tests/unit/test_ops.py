"""The ops layer against a real server: structured logs, secret masking, retry policy, unit locks."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pgerr

from reliable_etl import db
from reliable_etl.errors import BadInputError, UnitBusyError
from reliable_etl.ops.logs import PipelineLogger, PipelineLogSink, flush_logs, redact
from reliable_etl.ops.runs import record_run
from reliable_etl.retail.gold import publish_month
from reliable_etl.retail.load import day_lock, load_day, month_lock
from reliable_etl.retry import call_with_retry, is_transient, retrying

DAY = dt.date(2011, 1, 25)
RECORD_KEYS = {"timestamp", "level", "message", "pipeline_name", "run_id", "stage", "metadata"}


@pytest.fixture
def etl_records() -> Iterator[list[logging.LogRecord]]:
    """Every record the ``etl`` loggers emit during the test (whatever the CLI did to propagation)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("reliable_etl")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def docs(records: list[logging.LogRecord], run_id: str) -> list[dict]:
    return [r.etl_record for r in records if getattr(r, "etl_record", {}).get("run_id") == run_id]


def logged_rows(conn: psycopg.Connection, run_id: str) -> list[tuple]:
    return conn.execute(
        "select timestamp, level, message, logger, pipeline_name, run_id, stage, module, function, line, metadata"
        " from ops.pipeline_logs where run_id = %s order by id",
        (run_id,),
    ).fetchall()


# --- structured logs ---------------------------------------------------------------------


def test_records_are_json_with_every_field_and_reach_the_table(
    conn: psycopg.Connection, etl_records: list[logging.LogRecord]
) -> None:
    log = PipelineLogger("retail", "ops-json", stage="bronze")
    log.info("loaded %d rows from %s", 42, "retail_2011-01-25.csv", metadata={"file": "retail_2011-01-25.csv"})
    log.bind(stage="silver").warning("late file")

    first, second = docs(etl_records, "ops-json")
    assert set(first) == RECORD_KEYS
    assert first["level"] == "INFO"
    assert first["message"] == "loaded 42 rows from retail_2011-01-25.csv"
    assert (first["pipeline_name"], first["run_id"], first["stage"]) == ("retail", "ops-json", "bronze")
    assert first["metadata"] == {"file": "retail_2011-01-25.csv"}
    stamp = dt.datetime.fromisoformat(first["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - stamp) < dt.timedelta(minutes=1)
    assert (second["level"], second["stage"], second["metadata"]) == ("WARNING", "silver", {})

    assert logged_rows(conn, "ops-json") == []  # batched until flushed
    flush_logs()

    rows = logged_rows(conn, "ops-json")
    assert [(r[1], r[2], r[4], r[5], r[6], r[10]) for r in rows] == [
        ("INFO", first["message"], "retail", "ops-json", "bronze", {"file": "retail_2011-01-25.csv"}),
        ("WARNING", "late file", "retail", "ops-json", "silver", {}),
    ]
    timestamp, _, _, logger, *_, module, function, line, _ = rows[0]
    assert timestamp == stamp
    # where the call was made, not the logging machinery
    assert (logger, module, function) == (
        "reliable_etl.retail",
        "test_ops",
        "test_records_are_json_with_every_field_and_reach_the_table",
    )
    assert line > 0


def test_debug_records_are_not_written(conn: psycopg.Connection, etl_records: list[logging.LogRecord]) -> None:
    log = PipelineLogger("retail", "ops-debug")
    log.debug("noise")
    log.info("signal")
    flush_logs()
    assert [r[2] for r in logged_rows(conn, "ops-debug")] == ["signal"]


SECRETS = {
    "uri": "postgresql://etl_user:s3cr3t-Pa55@db.internal:5432/warehouse",
    "password": "password=hunter2",
    "slack": "https://hooks.slack.com/services/T000/B000/XXXX",
    "github": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
}
SECRET_VALUES = ("s3cr3t-Pa55", "hunter2", "T000/B000/XXXX", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "tok-9f8e7d")


def test_secrets_are_masked_in_records_and_table(
    conn: psycopg.Connection, etl_records: list[logging.LogRecord]
) -> None:
    log = PipelineLogger("retail", "ops-secrets", stage="notify")
    log.error(
        "connecting to %s with %s failed, alert %s then push with %s",
        SECRETS["uri"],
        SECRETS["password"],
        SECRETS["slack"],
        SECRETS["github"],
        metadata={
            "token": "tok-9f8e7d",
            "dsn": SECRETS["uri"],
            "nested": {"hooks": [SECRETS["slack"]], "API_KEY": "k"},
            "rows": 3,
        },
    )
    flush_logs()

    (doc,) = docs(etl_records, "ops-secrets")
    text = etl_records[-1].getMessage()
    (row,) = logged_rows(conn, "ops-secrets")
    stored = json.dumps([row[2], row[10]])
    for where in (text, stored):
        for secret in SECRET_VALUES:
            assert secret not in where, (secret, where)
    assert doc["message"] == (
        "connecting to postgresql://etl_user:***@db.internal:5432/warehouse with password=*** failed,"
        " alert https://hooks.slack.com/*** then push with ***"
    )
    assert row[2] == doc["message"]
    assert row[10] == {
        "token": "***",
        "dsn": "postgresql://etl_user:***@db.internal:5432/warehouse",
        "nested": {"hooks": ["https://hooks.slack.com/***"], "API_KEY": "***"},
        "rows": 3,
    }


def test_errors_in_the_ledger_are_masked(conn: psycopg.Connection) -> None:
    with db.transaction() as tx:
        record_run(tx, "retail", "ops-masked-run", status="failed", error=f"could not reach {SECRETS['uri']}")
    (error,) = conn.execute("select error from ops.pipeline_runs where run_id = 'ops-masked-run'").fetchone()
    assert error == "could not reach postgresql://etl_user:***@db.internal:5432/warehouse"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("token: abc123def", "token: ***"),
        ('{"api_key": "k-123"}', '{"api_key": "***"}'),
        ("Authorization: Bearer eyJhbGciOi", "Authorization: Bearer ***"),
        ("a plain message, nothing secret", "a plain message, nothing secret"),
        ("http://host:8080/path", "http://host:8080/path"),  # a port is not a password
    ],
)
def test_redact(text: str, masked: str) -> None:
    assert redact(text) == masked


@pytest.fixture
def log_table_away(conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[PipelineLogSink]:
    """ops.pipeline_logs renamed away for the test; the sink re-enabled afterwards."""
    PipelineLogger("retail", None)  # installs the sink
    (sink,) = [h for h in logging.getLogger("reliable_etl").handlers if isinstance(h, PipelineLogSink)]
    flush_logs()
    monkeypatch.setattr(sink, "unreachable", False)  # restored at teardown
    monkeypatch.setattr(sink, "_retry_at", 0.0)
    conn.execute("alter table ops.pipeline_logs rename to pipeline_logs_away")
    try:
        yield sink
    finally:
        conn.execute("alter table if exists ops.pipeline_logs_away rename to pipeline_logs")
        sink.buffer.clear()


def test_unreachable_log_table_does_not_stop_the_work(
    clean_retail: psycopg.Connection,
    sample_landing: Path,
    log_table_away: PipelineLogSink,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    first = load_day(DAY, run_id="ops-nolog-1", landing_dir=sample_landing)
    flush_logs()
    second = load_day(DAY + dt.timedelta(days=1), run_id="ops-nolog-2", landing_dir=sample_landing)
    PipelineLogger("retail", "ops-nolog-3").info("still working")
    flush_logs()

    assert (first.accepted, second.accepted) == (first.rows_in, second.rows_in)
    silver = clean_retail.execute("select count(*) from silver.fact_sales_daily").fetchone()[0]
    assert silver == first.accepted + second.accepted
    err = capsys.readouterr().err
    assert err.count("ops.pipeline_logs is unreachable") == 1, err
    assert 'relation "ops.pipeline_logs" does not exist' in err
    assert "structured logs continue in the task log and are kept to be written later" in err
    assert log_table_away.unreachable


def test_records_kept_while_the_log_table_is_away_are_written_when_it_is_back(
    conn: psycopg.Connection, log_table_away: PipelineLogSink, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    log = PipelineLogger("retail", "ops-late-logs")
    log.info("first")
    flush_logs()
    log.warning("second")
    flush_logs()  # within the retry interval: not even tried
    assert log_table_away.unreachable
    conn.execute("alter table ops.pipeline_logs_away rename to pipeline_logs")

    flush_logs(force=True)

    assert [(r[1], r[2]) for r in logged_rows(conn, "ops-late-logs")] == [("INFO", "first"), ("WARNING", "second")]
    err = capsys.readouterr().err
    assert err.count("unreachable") == 1, err
    assert "ops.pipeline_logs is reachable again" in err
    assert not log_table_away.unreachable


def test_task_log_lines_are_readable_message_first(etl_records: list[logging.LogRecord]) -> None:
    PipelineLogger("retail", "ops-readable", stage="bronze").info(
        "loaded %d rows", 42, metadata={"file": "retail_2011-01-25.csv", "note": "two words", "n": [1, 2]}
    )
    (record,) = [r for r in etl_records if getattr(r, "etl_record", {}).get("run_id") == "ops-readable"]
    assert record.getMessage() == 'loaded 42 rows [stage=bronze file=retail_2011-01-25.csv note="two words" n=[1,2]]'
    assert record.etl_record["message"] == "loaded 42 rows"  # the JSON document keeps its shape


# --- retry classification against the real server -----------------------------------------


@pytest.fixture
def probe(conn: psycopg.Connection) -> Callable[..., psycopg.Connection]:
    """A two-row scratch table, and a factory of extra connections closed at teardown."""
    conn.execute("drop table if exists public.retry_probe")
    conn.execute("create table public.retry_probe (id integer primary key, v integer not null)")
    conn.execute("insert into public.retry_probe values (1, 0), (2, 0)")
    opened: list[psycopg.Connection] = []

    def connect(*, autocommit: bool = False) -> psycopg.Connection:
        c = db.connect(autocommit=autocommit, application_name="etl tests probe")
        opened.append(c)
        return c

    yield connect
    for c in opened:
        c.close()
    conn.execute("drop table public.retry_probe")


def provoke(fn: Callable[[], object]) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        fn()
    return caught.value


def test_serialization_failure_is_transient(probe: Callable[..., psycopg.Connection]) -> None:
    a, b = probe(), probe(autocommit=True)
    a.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    a.execute("select v from retry_probe where id = 1")
    b.execute("update retry_probe set v = v + 1 where id = 1")

    error = provoke(lambda: a.execute("update retry_probe set v = v + 10 where id = 1"))

    assert isinstance(error, pgerr.SerializationFailure)
    assert error.sqlstate == "40001"
    assert is_transient(error)


def test_lock_timeout_is_transient(probe: Callable[..., psycopg.Connection]) -> None:
    holder, waiter = probe(), probe(autocommit=True)
    holder.execute("select * from retry_probe where id = 1 for update")
    waiter.execute("set lock_timeout = '100ms'")

    error = provoke(lambda: waiter.execute("update retry_probe set v = 1 where id = 1"))

    assert isinstance(error, pgerr.LockNotAvailable)
    assert is_transient(error)


def test_statement_timeout_is_transient(probe: Callable[..., psycopg.Connection]) -> None:
    c = probe(autocommit=True)
    c.execute("set statement_timeout = '50ms'")

    error = provoke(lambda: c.execute("select pg_sleep(2)"))

    assert isinstance(error, pgerr.QueryCanceled)
    assert is_transient(error)


def test_deadlock_is_transient(probe: Callable[..., psycopg.Connection]) -> None:
    a, b = probe(), probe()
    for c in (a, b):
        c.execute("set deadlock_timeout = '100ms'")
    a.execute("update retry_probe set v = 1 where id = 1")
    b.execute("update retry_probe set v = 2 where id = 2")
    errors: list[BaseException] = []

    def a_wants_2() -> None:
        try:
            a.execute("update retry_probe set v = 1 where id = 2")
        except psycopg.Error as exc:
            errors.append(exc)
            a.rollback()

    thread = threading.Thread(target=a_wants_2)
    thread.start()
    time.sleep(0.2)  # a is now waiting for b
    try:
        b.execute("update retry_probe set v = 2 where id = 1")
    except psycopg.Error as exc:
        errors.append(exc)
        b.rollback()
    else:
        b.commit()  # a was the victim; let it go
    thread.join(10)

    assert len(errors) == 1, errors  # one victim, the other transaction went through
    assert isinstance(errors[0], pgerr.DeadlockDetected)
    assert is_transient(errors[0])


def test_lost_connection_is_transient(probe: Callable[..., psycopg.Connection]) -> None:
    victim, admin = probe(autocommit=True), probe(autocommit=True)
    admin.execute("select pg_terminate_backend(%s)", (victim.info.backend_pid,))

    error = provoke(lambda: victim.execute("select 1"))

    assert isinstance(error, psycopg.OperationalError)
    assert is_transient(error)
    assert is_transient(provoke(lambda: victim.execute("select 1")))  # and the closed connection after it


@pytest.mark.parametrize(
    ("statement", "error_class"),
    [
        ("insert into retry_probe values (1, 0)", pgerr.UniqueViolation),
        ("select 1 / (select min(v) from retry_probe)", pgerr.DivisionByZero),
        ("select 'twelve'::integer", pgerr.InvalidTextRepresentation),
        ("insert into retry_probe values (3, null)", pgerr.NotNullViolation),
        ("select * from no_such_table", pgerr.UndefinedTable),
    ],
)
def test_permanent_errors_are_not_transient(
    probe: Callable[..., psycopg.Connection], statement: str, error_class: type[psycopg.Error]
) -> None:
    error = provoke(lambda: probe(autocommit=True).execute(statement))
    assert isinstance(error, error_class)
    assert not is_transient(error)


def test_bundle_errors_classification() -> None:
    assert is_transient(UnitBusyError("retail:day:2011-01-25 is being written"))
    assert is_transient(ConnectionResetError())
    assert not is_transient(BadInputError("retail_2011-01-25.csv: line 3: bad"))
    assert not is_transient(ValueError("bug"))


# --- call_with_retry ----------------------------------------------------------------------


def _timed_out_query() -> None:
    """A real statement timeout (57014) on a fresh connection."""
    with db.connect(autocommit=True, application_name="etl tests retry") as c:
        c.execute("set statement_timeout = '20ms'")
        c.execute("select pg_sleep(1)")


def test_call_with_retry_retries_a_transient_failure_then_succeeds(
    schema: str, fast_retry: pytest.MonkeyPatch, etl_records: list[logging.LogRecord]
) -> None:
    attempts = []

    def unit_of_work(value: int) -> int:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            _timed_out_query()
        return value * 2

    assert call_with_retry(unit_of_work, 21) == 42
    assert len(attempts) == 3
    retries = [r.getMessage() for r in etl_records if r.name == "reliable_etl.retry"]
    assert len(retries) == 2
    assert "(attempt 1)" in retries[0]
    assert "canceling statement due to statement timeout" in retries[0]
    assert "unit_of_work" in retries[0]


def test_retries_reach_the_ops_log_with_unit_attempt_wait_and_error(
    conn: psycopg.Connection, fast_retry: pytest.MonkeyPatch
) -> None:
    log = PipelineLogger("retail", "ops-retry-log", stage="day")
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            _timed_out_query()
        return "done"

    assert retrying(log=log, what="day 2011-01-25")(flaky) == "done"
    flush_logs()

    rows = logged_rows(conn, "ops-retry-log")
    assert [r[1] for r in rows] == ["WARNING", "WARNING"]
    first = rows[0][10]
    assert first["retry"]["unit"] == "day 2011-01-25"
    assert [r[10]["retry"]["attempt"] for r in rows] == [1, 2]
    assert 0 <= first["retry"]["wait_s"] <= 0.01
    assert first["error"] == "QueryCanceled: canceling statement due to statement timeout"
    assert "day 2011-01-25 (attempt 1), retrying in" in rows[0][2]


NOTHING_LISTENS = "postgresql://postgres@127.0.0.1:1/postgres"  # what a restarting server looks like


def retry_policy(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Set ``ETL_RETRY_<NAME>`` variables and make the settings read them."""
    from reliable_etl.config import settings

    for name, value in env.items():
        monkeypatch.setenv(f"ETL_RETRY_{name.upper()}", value)
    settings.cache_clear()


def test_a_connection_refused_is_transient_a_wrong_database_is_not() -> None:
    for uri, transient in (
        (NOTHING_LISTENS, True),
        ("postgresql://postgres@127.0.0.1:5432/etl_no_such_database", False),
    ):
        with pytest.raises(psycopg.OperationalError) as caught:
            psycopg.connect(uri, connect_timeout=2)
        assert is_transient(caught.value) is transient, caught.value


def test_call_with_retry_gives_up_after_the_attempt_bound(schema: str, fast_retry: pytest.MonkeyPatch) -> None:
    retry_policy(fast_retry, attempts="4")
    attempts = []

    def always_times_out() -> None:
        attempts.append(1)
        _timed_out_query()

    with pytest.raises(pgerr.QueryCanceled):  # the original error, not a tenacity wrapper
        call_with_retry(always_times_out)
    assert len(attempts) == 4


def test_an_outage_is_waited_for_beyond_the_attempt_bound_until_the_time_bound(
    fast_retry: pytest.MonkeyPatch,
) -> None:
    """Several restarts in a row (each attempt refused) must not exhaust the attempts; time still bounds it."""
    retry_policy(fast_retry, attempts="3", max_seconds="1")
    refused_then_up = []

    def warehouse_flapping() -> str:
        refused_then_up.append(1)
        if len(refused_then_up) <= 8:
            psycopg.connect(NOTHING_LISTENS, connect_timeout=2)
        return "committed"

    assert call_with_retry(warehouse_flapping) == "committed"
    assert len(refused_then_up) == 9

    refused = []

    def warehouse_gone() -> None:
        refused.append(1)
        psycopg.connect(NOTHING_LISTENS, connect_timeout=2)

    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        call_with_retry(warehouse_gone)
    assert len(refused) > 3  # beyond the attempts, and
    assert 1 <= time.monotonic() - started < 3  # no longer than the time bound


def test_call_with_retry_gives_up_after_the_time_bound(fast_retry: pytest.MonkeyPatch) -> None:
    retry_policy(fast_retry, attempts="1000", wait_min="0.05", wait_max="0.05", max_seconds="0.5")
    attempts = []

    def busy() -> None:
        attempts.append(1)
        raise UnitBusyError("retail:day:2011-01-25 is being written by another session")

    started = time.monotonic()
    with pytest.raises(UnitBusyError):
        call_with_retry(busy)
    assert 2 <= len(attempts) < 1000
    assert time.monotonic() - started < 3


def test_call_with_retry_fails_at_once_on_permanent_errors(schema: str, fast_retry: pytest.MonkeyPatch) -> None:
    attempts = []

    def divide() -> None:
        attempts.append(1)
        with db.connect(autocommit=True) as c:
            c.execute("select 1 / 0")

    with pytest.raises(pgerr.DivisionByZero):
        call_with_retry(divide)
    assert len(attempts) == 1


# --- advisory locks: one writer per unit ---------------------------------------------------


class Holder:
    """Holds advisory locks in a thread, on a connection of its own, until released."""

    def __init__(self, *locks: tuple[str, bool]) -> None:
        self.locks = locks
        self.held = threading.Event()
        self.release = threading.Event()
        self.released_at = 0.0
        self.pid = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with db.transaction(application_name="etl test holder") as conn:
                self.pid = conn.info.backend_pid
                for key, shared in self.locks:
                    db.advisory_lock(conn, key, shared=shared)
                self.held.set()
                self.release.wait(30)
                self.released_at = time.monotonic()
        except BaseException as exc:  # surfaced by the test
            self.error = exc
            self.held.set()

    def __enter__(self) -> Holder:
        self.thread.start()
        assert self.held.wait(10)
        assert self.error is None, self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


def wait_for_lock_waiter(application_name: str, timeout: float = 10) -> None:
    """Until a session of that name waits on a lock (proves the second unit blocks)."""
    deadline = time.monotonic() + timeout
    with db.connect(autocommit=True, application_name="etl tests watcher") as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "select count(*) from pg_stat_activity"
                " where application_name = %s and wait_event_type = 'Lock' and wait_event = 'advisory'",
                (application_name,),
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError(f"{application_name} never waited for a lock")


def test_second_unit_of_the_same_day_waits_for_the_first(
    clean_retail: psycopg.Connection, sample_landing: Path
) -> None:
    with Holder((day_lock(DAY), False)) as holder:

        def release_once_blocked() -> None:
            wait_for_lock_waiter(f"etl retail {DAY}")
            holder.release.set()

        releaser = threading.Thread(target=release_once_blocked)
        releaser.start()
        result = load_day(DAY, run_id="ops-waits", landing_dir=sample_landing)
        done_at = time.monotonic()
        releaser.join(10)

    assert holder.error is None
    assert 0 < holder.released_at < done_at  # it finished only after the holder let go
    assert result.accepted == result.rows_in
    assert clean_retail.execute(
        "select count(*) from silver.fact_sales_daily where sales_date = %s", (DAY,)
    ).fetchone() == (result.accepted,)


def test_busy_unit_fails_with_its_name_after_the_lock_timeout(
    clean_retail: psycopg.Connection, sample_landing: Path, fast_retry: pytest.MonkeyPatch
) -> None:
    from reliable_etl.config import settings

    fast_retry.setenv("ETL_LOCK_TIMEOUT_MS", "200")
    fast_retry.setenv("ETL_RETRY_ATTEMPTS", "2")
    settings.cache_clear()

    with Holder((day_lock(DAY), False)) as holder:
        started = time.monotonic()
        with pytest.raises(UnitBusyError) as busy:
            load_day(DAY, run_id="ops-busy", landing_dir=sample_landing)
        elapsed = time.monotonic() - started

    message = str(busy.value)
    assert message.startswith(f"retail:day:{DAY} is being written by pid {holder.pid} (etl test holder), since ")
    assert message.endswith("try again when it finishes")
    assert 0.4 <= elapsed < 5  # two attempts of ~200 ms each, then it gave up
    assert clean_retail.execute("select count(*) from bronze.retail_sales").fetchone() == (0,)
    status, error = clean_retail.execute(
        "select status, error from ops.pipeline_runs where run_id = 'ops-busy'"
    ).fetchone()
    assert status == "failed"
    assert f"retail:day:{DAY} is being written" in error


def test_days_of_a_month_share_it_but_exclude_its_gold(
    clean_retail: psycopg.Connection, sample_landing: Path, fast_retry: pytest.MonkeyPatch
) -> None:
    """A day being loaded holds its month shared: other days proceed, gold for the month waits."""
    from reliable_etl.config import settings

    fast_retry.setenv("ETL_LOCK_TIMEOUT_MS", "200")
    fast_retry.setenv("ETL_RETRY_ATTEMPTS", "1")
    settings.cache_clear()
    other_day = DAY + dt.timedelta(days=1)

    with Holder((day_lock(DAY), False), (month_lock(DAY), True)):
        loaded = load_day(other_day, run_id="ops-shared", landing_dir=sample_landing)
        with pytest.raises(
            UnitBusyError, match=r"^retail:month:2011-01 is being written by pid \d+ \(etl test holder\)"
        ):
            publish_month(2011, 1, run_id="ops-gold-busy")

    assert loaded.accepted == loaded.rows_in
    assert clean_retail.execute(
        "select status, error like 'retail:month:2011-01 is being written%%' from ops.processed_months"
        " where month_key = '2011-01'"
    ).fetchone() == ("failed", True)
