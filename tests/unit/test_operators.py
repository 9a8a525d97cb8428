"""The public operators, against a real PostgreSQL: EtlOperator's ledger and logs, GoldUpsertOperator's units.

A user's operator subclassing EtlOperator gets the bundle's JSON logs bound to its task and
its run's row in ops.pipeline_runs; the ops tables being unreachable never fails it. A gold
model (one SELECT) is published as a unit: computed once, then 0 rows while its input is
unchanged, only the changed rows when it changes, vanished keys deleted, no Asset event
unless something was written.
"""

from __future__ import annotations

import datetime as dt
import types
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from reliable_etl.gold.publish import publish_unit
from reliable_etl.gold.spec import GoldSpec
from reliable_etl.operators import EtlOperator, GoldUpsertOperator
from reliable_etl_dev.testing import table_fingerprint

MODEL = """
select
    region,
    %(unit_key)s::text as batch,
    sum(amount)::numeric(12, 2) as total,
    count(*)::bigint as orders
from public.op_orders
where batch = %(unit_key)s
group by region
"""


def context(run_id: str, *, map_index: int = -1, interval_end: dt.datetime | None = None) -> dict:
    """What the task runner hands an operator (the parts ours read)."""
    return {
        "run_id": run_id,
        "ti": types.SimpleNamespace(map_index=map_index, try_number=1),
        "data_interval_end": interval_end,
        "outlet_events": defaultdict(lambda: types.SimpleNamespace(extra={})),
    }


def ledger(conn: psycopg.Connection, pipeline: str) -> list[tuple]:
    return conn.execute(
        "select run_id, status, error, records_in, records_out from ops.pipeline_runs"
        " where pipeline_name = %s order by run_id",
        (pipeline,),
    ).fetchall()


class CountRows(EtlOperator):
    """A user's operator: counts a table inside a unit of work, with a checkpoint."""

    def __init__(self, *, table: str, fail: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.fail = fail

    def run(self, context) -> dict:
        log = self.ops_log(context)
        with self.unit_of_work(context, "count") as unit, unit.stage("count") as cp:
            n = unit.conn.execute(f"select count(*) from {self.table}").fetchone()[0]
            cp.metadata["rows"] = n
        log.info("counted %d rows with token=abc123secret", n, metadata={"rows": n})
        if self.fail:
            raise RuntimeError("password=hunter2 was refused")
        self.ledger.update(records_in=n, records_out=n)
        return {"rows": n}


def test_a_users_operator_gets_the_ledger_row_and_logs_bound_to_its_task(conn: psycopg.Connection) -> None:
    conn.execute("delete from ops.pipeline_runs where pipeline_name = 'user_pipeline'")
    task = CountRows(task_id="count_orders", pipeline="user_pipeline", table="ops.schema_migrations")

    assert task.execute(context("manual__u1")) == {
        "rows": conn.execute("select count(*) from ops.schema_migrations").fetchone()[0]
    }

    ((run_id, status, error, records_in, _),) = ledger(conn, "user_pipeline")
    assert (run_id, status, error) == ("manual__u1", "success", None)
    assert records_in > 0
    logs = conn.execute(
        "select message, stage, dag_id, task_id, run_id, map_index from ops.pipeline_logs"
        " where pipeline_name = 'user_pipeline' order by id"
    ).fetchall()
    assert ("count count started", "count", "adhoc_airflow", "count_orders", "manual__u1", -1) in logs
    counted = [row for row in logs if row[0].startswith("counted")]
    assert counted[0][0] == f"counted {records_in} rows with token=***"  # masked
    checkpoint = conn.execute(
        "select status, metadata from ops.pipeline_checkpoint where pipeline_name = 'user_pipeline'"
    ).fetchone()
    assert checkpoint == ("completed", {"rows": records_in})


def test_a_failing_operator_leaves_a_failed_row_with_the_error_masked(conn: psycopg.Connection) -> None:
    conn.execute("delete from ops.pipeline_runs where pipeline_name = 'user_pipeline'")
    task = CountRows(task_id="count_orders", pipeline="user_pipeline", table="ops.schema_migrations", fail=True)
    with pytest.raises(RuntimeError):
        task.execute(context("manual__u2"))
    ((_, status, error, *_),) = ledger(conn, "user_pipeline")
    assert (status, error) == ("failed", "password=*** was refused")


def test_an_unreachable_ledger_never_fails_the_task(
    conn: psycopg.Connection, fast_retry: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    task = CountRows(task_id="count_orders", pipeline="user_unreachable", table="ops.schema_migrations")
    conn.execute("alter table ops.pipeline_runs rename to pipeline_runs_away")
    try:
        assert task.execute(context("manual__u3"))["rows"] > 0
        assert task.execute(context("manual__u4"))["rows"] > 0
    finally:
        conn.execute("alter table ops.pipeline_runs_away rename to pipeline_runs")
    warned = conn.execute(
        "select count(*) from ops.pipeline_logs where pipeline_name = 'user_unreachable'"
        " and message like 'ops.pipeline_runs is unreachable%%'"
    ).fetchone()[0]
    assert warned == 1  # said once, not at every write


# --- gold models -----------------------------------------------------------------------------


@pytest.fixture
def orders(conn: psycopg.Connection, tmp_path: Path) -> Iterator[GoldSpec]:
    conn.execute("drop table if exists public.op_orders, gold.op_region_totals")
    conn.execute("delete from ops.processed_units where pipeline_name = 'op_gold'")
    conn.execute("create table public.op_orders (id serial, batch text, region text, amount numeric(12, 2))")
    conn.execute(
        "insert into public.op_orders (batch, region, amount) values"
        " ('b1', 'north', 10), ('b1', 'north', 5), ('b1', 'south', 7), ('b2', 'north', 1), ('b2', 'east', 2)"
    )
    (tmp_path / "region_totals.sql").write_text(MODEL)
    yield GoldSpec(
        pipeline="op_gold",
        kind="key",
        model_sql="region_totals",
        target="gold.op_region_totals",
        key=("batch", "region"),
        unit_column="batch",
        sql_dir=tmp_path,
    )
    conn.execute("drop table if exists public.op_orders, gold.op_region_totals")  # gold is shared by other tests


def totals(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("select batch, region, total, orders from gold.op_region_totals order by 1, 2").fetchall()


def test_a_model_is_computed_once_then_writes_nothing_while_its_input_is_unchanged(
    conn: psycopg.Connection, orders: GoldSpec
) -> None:
    first = publish_unit(orders, "b1", run_id="op1")
    assert (first.action, first.rows_written, first.input_rows) == ("computed", 2, 2)
    assert publish_unit(orders, "b2", run_id="op1").rows_written == 2
    assert totals(conn) == [
        ("b1", "north", 15, 2),
        ("b1", "south", 7, 1),
        ("b2", "east", 2, 1),
        ("b2", "north", 1, 1),
    ]
    before = table_fingerprint(conn, "gold.op_region_totals")

    again = publish_unit(orders, "b1", run_id="op2")

    assert (again.action, again.rows_written) == ("unchanged", 0)
    assert table_fingerprint(conn, "gold.op_region_totals") == before  # xmin too: nothing rewritten
    ledger_row = conn.execute(
        "select unit_kind, status, rows_written from ops.processed_units where pipeline_name = 'op_gold'"
        " and unit_key = 'b1'"
    ).fetchone()
    assert ledger_row == ("key", "completed", 2)


def test_a_changed_input_rewrites_only_its_changed_rows_and_deletes_vanished_keys(
    conn: psycopg.Connection, orders: GoldSpec
) -> None:
    publish_unit(orders, "b1", run_id="op1")
    publish_unit(orders, "b2", run_id="op1")
    b2_versions = conn.execute("select xmin::text from gold.op_region_totals where batch = 'b2'").fetchall()
    south = conn.execute("select xmin::text from gold.op_region_totals where region = 'south'").fetchone()
    conn.execute("update public.op_orders set amount = 20 where batch = 'b1' and region = 'north' and amount = 10")
    conn.execute("insert into public.op_orders (batch, region, amount) values ('b1', 'west', 3)")

    changed = publish_unit(orders, "b1", run_id="op3")

    assert (changed.action, changed.rows_written) == ("computed", 2)  # north updated, west inserted
    assert conn.execute("select xmin::text from gold.op_region_totals where region = 'south'").fetchone() == south
    assert conn.execute("select xmin::text from gold.op_region_totals where batch = 'b2'").fetchall() == b2_versions

    conn.execute("delete from public.op_orders where batch = 'b1' and region = 'west'")
    gone = publish_unit(orders, "b1", run_id="op4")
    assert (gone.action, gone.rows_written) == ("computed", 1)
    assert [r[1] for r in totals(conn) if r[0] == "b1"] == ["north", "south"]


def test_dry_run_and_reset(conn: psycopg.Connection, orders: GoldSpec) -> None:
    assert publish_unit(orders, "b1", run_id="op1", dry_run=True).action == "would compute"
    assert conn.execute("select to_regclass('gold.op_region_totals')").fetchone()[0] is None  # nothing created
    publish_unit(orders, "b1", run_id="op1")
    assert publish_unit(orders, "b1", run_id="op2", dry_run=True).action == "would skip"
    reset = publish_unit(orders, "b1", run_id="op3", reset=True)
    assert (reset.action, reset.rows_written) == ("computed", 4)  # 2 deleted, 2 inserted
    assert totals(conn) == [("b1", "north", 15, 2), ("b1", "south", 7, 1)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"tables": ["a"], "model_sql": "b"}, "either table SQL files"),
        ({}, "either table SQL files"),
        ({"tables": ["a"]}, "need fingerprint_sql or input_sql"),
        ({"model_sql": "m", "target": "no_schema", "key": ["k"], "unit_column": "k"}, "target 'schema.table'"),
        ({"model_sql": "m", "target": "g.t", "key": ["k"], "unit_column": "u"}, "must be one of the key"),
        ({"model_sql": "m", "target": 'g.t"; drop', "key": ["k"], "unit_column": "k"}, "plain names"),
        ({"model_sql": "m", "target": "g.t", "key": ["k"], "unit_column": "k", "kind": "week"}, "kind must be"),
    ],
)
def test_the_operator_refuses_a_unit_it_cannot_publish_when_the_dag_is_parsed(args: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GoldUpsertOperator(task_id="publish", pipeline="p", **args)


def test_the_operator_emits_an_event_with_what_changed_and_skips_when_nothing_did(
    conn: psycopg.Connection, orders: GoldSpec
) -> None:
    asset = Asset(name="gold.op_region_totals")
    task = GoldUpsertOperator(
        task_id="publish",
        pipeline="op_gold",
        kind="key",
        unit="b1",
        model_sql="region_totals",
        target="gold.op_region_totals",
        key=["batch", "region"],
        unit_column="batch",
        sql_dir=str(orders.sql_dir),
        outlets=[asset],
    )
    ctx = context("manual__g1")
    result = task.execute(ctx)
    assert (result["action"], result["rows_written"]) == ("computed", 2)
    assert ctx["outlet_events"][asset].extra == {
        "key": "b1",
        "unit": "b1",
        "rows_written": 2,
        "input_rows": 2,
        "fingerprint": result["fingerprint"],
        "reason": "new",
        "checks": {},
    }

    again = context("manual__g2")
    with pytest.raises(AirflowSkipException, match="no gold change: b1 unchanged"):
        task.execute(again)
    assert asset not in again["outlet_events"]  # no event
    assert ledger(conn, "op_gold")[-1][:2] == ("manual__g2", "success")  # the run did what it had to

    task.dry_run = "True"  # as a template renders it
    with pytest.raises(AirflowSkipException, match="dry run"):
        task.execute(context("manual__g3"))


def test_a_month_is_first_published_once_the_run_reaches_its_end(conn: psycopg.Connection, tmp_path: Path) -> None:
    conn.execute("drop table if exists public.op_days, gold.op_month_days")
    conn.execute("delete from ops.processed_months where pipeline_name = 'op_months'")
    conn.execute(
        "create table public.op_days as"
        " select d::date as day from generate_series('2011-01-01', '2011-01-31', interval '1 day') as d"
    )
    (tmp_path / "days.sql").write_text(
        "select %(month_key)s::text as month_key, count(*)::bigint as days from public.op_days"
        " where day >= %(month_start)s and day < %(month_end)s"
    )
    task = GoldUpsertOperator(
        task_id="publish",
        pipeline="op_months",
        unit="2011-01",
        model_sql="days",
        target="gold.op_month_days",
        key=["month_key"],
        unit_column="month_key",
        sql_dir=str(tmp_path),
    )
    with pytest.raises(AirflowSkipException, match="2011-01 open"):
        task.execute(context("d30", interval_end=dt.datetime(2011, 1, 31, 2, tzinfo=dt.UTC)))  # day 30's run
    assert task.execute(context("d31", interval_end=dt.datetime(2011, 2, 1, 2, tzinfo=dt.UTC)))["action"] == "computed"
    assert conn.execute("select month_key, days from gold.op_month_days").fetchall() == [("2011-01", 31)]
    row = conn.execute("select year, month, status from ops.processed_months where pipeline_name = 'op_months'")
    assert row.fetchone() == (2011, 1, "completed")
    conn.execute("drop table public.op_days, gold.op_month_days")


# --- the warehouse Connection: templated, honoured by every statement ----------------------------


@pytest.mark.parametrize(
    ("make", "fields"),
    [
        (
            lambda sql_dir: CountRows(task_id="t", pipeline="p", table="x", conn_id="{{ params.wh }}"),
            ("conn_id",),
        ),
        (
            lambda sql_dir: GoldUpsertOperator(
                task_id="t",
                pipeline="p",
                conn_id="{{ params.wh }}",
                kind="key",
                unit="{{ params.unit }}",
                model_sql="region_totals",
                sql_dir=str(sql_dir),
                target="g.t",
                key=["k"],
                unit_column="k",
                sql_params={"region": "{{ params.region }}"},
                dry_run="{{ params.dry_run }}",
                reset="{{ params.reset }}",
            ),
            ("conn_id", "unit", "sql_params", "dry_run", "reset"),
        ),
    ],
)
def test_each_operator_templates_its_connection_and_its_unit(make, fields: tuple[str, ...], tmp_path: Path) -> None:
    """The providers' pattern: the fields are declared, and rendering a context fills every one."""
    (tmp_path / "region_totals.sql").write_text(MODEL)
    task = make(tmp_path)
    assert tuple(task.template_fields) == fields
    params = {"wh": "warehouse_eu", "unit": "b7", "region": "north", "dry_run": "True", "reset": "False"}
    task.render_template_fields({"params": params})
    assert task.conn_id == "warehouse_eu"
    if isinstance(task, GoldUpsertOperator):
        assert (task.unit, task.sql_params, task.dry_run, task.reset) == ("b7", {"region": "north"}, "True", "False")


def test_the_sync_operators_template_their_connections() -> None:
    from reliable_etl.sync.operators import GitHubSyncOperator, JiraSyncOperator

    github = GitHubSyncOperator(
        task_id="g", repo="{{ params.repo }}", github_conn_id="{{ params.gh }}", conn_id="{{ params.wh }}"
    )
    jira = JiraSyncOperator(task_id="j", project="{{ params.key }}", jira_conn_id="{{ params.jira }}")
    assert tuple(github.template_fields) == ("conn_id", "repo", "full_refresh", "github_conn_id")
    assert tuple(jira.template_fields) == ("conn_id", "project", "full_refresh", "jira_conn_id")
    github.render_template_fields({"params": {"repo": "acme/api", "gh": "gh_eu", "wh": "warehouse_eu"}})
    jira.render_template_fields({"params": {"key": "ENG", "jira": "jira_eu"}})
    assert (github.repo, github.github_conn_id, github.conn_id) == ("acme/api", "gh_eu", "warehouse_eu")
    assert (jira.project, jira.jira_conn_id, jira.conn_id) == ("ENG", "jira_eu", None)  # None: ETL_WAREHOUSE_CONN_ID


@pytest.fixture
def second_warehouse(pg_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second warehouse database behind Connection ``warehouse_eu``, with the bundle's schema."""
    from reliable_etl import db
    from reliable_etl.ops import init_schema
    from reliable_etl_dev import scratch

    with scratch.database(pg_server, prefix="etl_test_eu") as name:
        monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE_EU", scratch.airflow_conn_uri(pg_server, name))
        with db.use_warehouse("warehouse_eu"):
            init_schema()
        yield scratch.libpq_uri(pg_server, name)


def test_every_statement_of_an_operator_goes_to_its_connection(
    conn: psycopg.Connection, second_warehouse: str, tmp_path: Path
) -> None:
    """Gold, its unit ledger, the run ledger, checkpoints, logs: all in ``conn_id``'s database, none in the default."""
    with psycopg.connect(second_warehouse, autocommit=True) as eu:
        eu.execute("create table public.op_orders (id serial, batch text, region text, amount numeric(12, 2))")
        eu.execute("insert into public.op_orders (batch, region, amount) values ('b1', 'north', 4), ('b1', 'south', 6)")
    (tmp_path / "region_totals.sql").write_text(MODEL)
    gold = GoldUpsertOperator(
        task_id="publish",
        pipeline="op_gold_eu",
        conn_id="warehouse_eu",
        kind="key",
        unit="b1",
        model_sql="region_totals",
        target="gold.op_region_totals",
        key=["batch", "region"],
        unit_column="batch",
        sql_dir=str(tmp_path),
    )
    count = CountRows(task_id="count", pipeline="op_count_eu", table="public.op_orders", conn_id="warehouse_eu")

    assert gold.execute(context("manual__eu1"))["rows_written"] == 2
    assert count.execute(context("manual__eu1")) == {"rows": 2}

    with psycopg.connect(second_warehouse) as eu:
        assert eu.execute("select region, total from gold.op_region_totals order by 1").fetchall() == [
            ("north", 4),
            ("south", 6),
        ]
        assert eu.execute("select status from ops.processed_units where pipeline_name = 'op_gold_eu'").fetchall() == [
            ("completed",)
        ]
        runs = eu.execute(
            "select pipeline_name, status from ops.pipeline_runs where pipeline_name like 'op_%%_eu' order by 1"
        ).fetchall()
        assert runs == [("op_count_eu", "success"), ("op_gold_eu", "success")]
        assert (
            eu.execute("select count(*) from ops.pipeline_logs where pipeline_name like 'op_%%_eu'").fetchone()[0] > 0
        )
        assert (
            eu.execute("select count(*) from ops.pipeline_checkpoint where pipeline_name = 'op_count_eu'").fetchone()[0]
            == 1
        )
    for table in ("ops.pipeline_runs", "ops.pipeline_logs", "ops.processed_units", "ops.pipeline_checkpoint"):
        assert conn.execute(f"select count(*) from {table} where pipeline_name like 'op_%%_eu'").fetchone()[0] == 0
    assert conn.execute("select to_regclass('gold.op_region_totals')").fetchone()[0] is None


def test_a_missing_connection_fails_at_once_naming_it(conn: psycopg.Connection) -> None:
    """A configuration error: the task fails without retries (AirflowFailException), naming what to set."""
    task = CountRows(task_id="count", pipeline="op_nowhere", table="public.x", conn_id="warehouse_nowhere")
    with pytest.raises(
        AirflowFailException, match=r"no Airflow Connection 'warehouse_nowhere'.*AIRFLOW_CONN_WAREHOUSE_NOWHERE"
    ):
        task.execute(context("manual__n1"))


# --- the operator contract without traps (issue 17) ------------------------------------------------

REGION_COUNTS = """
select
    region,
    %(unit_key)s::text as batch,
    count(*)::bigint as orders
from public.op_orders
where batch = %(unit_key)s
group by region
"""


def model_operator(sql_dir: Path, *, name: str, target: str, **kwargs) -> GoldUpsertOperator:
    return GoldUpsertOperator(
        task_id=f"publish_{name}",
        pipeline="op_gold",  # one pipeline, two operators: retail's own shape
        kind="key",
        unit="b1",
        model_sql=name,
        target=target,
        key=["batch", "region"],
        unit_column="batch",
        sql_dir=str(sql_dir),
        closes_run=False,
        **kwargs,
    )


def test_two_gold_operators_of_one_pipeline_keep_a_ledger_row_each(
    conn: psycopg.Connection, orders: GoldSpec, tmp_path: Path
) -> None:
    """Keyed by what each publishes: the second's row no longer overwrites the first's (a recompute, two events)."""
    conn.execute("drop table if exists gold.op_region_counts")
    (tmp_path / "region_counts.sql").write_text(REGION_COUNTS)
    totals_op = model_operator(orders.sql_dir, name="region_totals", target="gold.op_region_totals")
    counts_op = model_operator(tmp_path, name="region_counts", target="gold.op_region_counts")
    try:
        assert totals_op.execute(context("manual__two1"))["action"] == "computed"
        assert counts_op.execute(context("manual__two1"))["action"] == "computed"
        for task in (totals_op, counts_op):  # an unchanged day: both skip, no event, nothing recomputed
            with pytest.raises(AirflowSkipException, match="unchanged"):
                task.execute(context("manual__two2"))
        rows = conn.execute(
            "select target, status from ops.processed_units where pipeline_name = 'op_gold' order by target"
        ).fetchall()
        assert rows == [("gold.op_region_counts", "completed"), ("gold.op_region_totals", "completed")]
    finally:
        conn.execute("drop table if exists gold.op_region_counts")


def test_a_row_from_before_targets_is_adopted_by_its_publisher(conn: psycopg.Connection, orders: GoldSpec) -> None:
    """The migration of existing rows: a ledger row without a target becomes the first publisher's."""
    conn.execute(
        "insert into ops.processed_units (pipeline_name, unit_key, unit_kind, status, input_fingerprint)"
        " values ('op_gold', 'b1', 'key', 'completed', 'from-an-older-release')"
    )
    result = publish_unit(orders, "b1", run_id="op_adopt")
    assert (result.action, result.reason) == ("computed", "logic changed")  # its logic was never recorded
    rows = conn.execute(
        "select target, input_fingerprint = %s, logic_fingerprint = %s from ops.processed_units"
        " where pipeline_name = 'op_gold'",
        (result.fingerprint, orders.logic_fingerprint),
    ).fetchall()
    assert rows == [("gold.op_region_totals", True, True)]  # adopted, not duplicated


def test_a_changed_gold_sql_file_republishes_the_unit_it_shapes(
    conn: psycopg.Connection, orders: GoldSpec, tmp_path: Path
) -> None:
    """dbt's --full-refresh trap: editing the SQL must not leave unchanged units on the old logic."""
    assert publish_unit(orders, "b1", run_id="op_logic1").action == "computed"
    assert publish_unit(orders, "b1", run_id="op_logic2").action == "unchanged"
    before = orders.logic_fingerprint
    (orders.sql_dir / "region_totals.sql").write_text(MODEL.replace("sum(amount)", "sum(amount) * 2"))
    assert orders.logic_fingerprint != before
    preview = publish_unit(orders, "b1", run_id="op_logic3", dry_run=True)
    assert (preview.action, preview.reason) == ("would compute", "logic changed")
    again = publish_unit(orders, "b1", run_id="op_logic3")
    assert (again.action, again.reason, again.rows_written) == ("computed", "logic changed", 2)
    assert totals(conn) == [("b1", "north", 30, 2), ("b1", "south", 14, 1)]
    assert publish_unit(orders, "b1", run_id="op_logic4").action == "unchanged"


def test_no_asset_event_when_a_changed_input_leaves_gold_as_it_was(
    conn: psycopg.Connection, orders: GoldSpec, tmp_path: Path
) -> None:
    """Table-files mode: the input's fingerprint changed, the gold rows did not: no event, a skip."""
    (tmp_path / "fingerprint.sql").write_text(
        "select md5(string_agg(id::text || amount::text, ',' order by id)), count(*)"
        " from public.op_orders where batch = %(unit_key)s"
    )
    (tmp_path / "upsert_totals.sql").write_text(
        "with model as (" + MODEL + "), written as (insert into gold.op_region_totals as t"
        " select * from model on conflict (batch, region) do update set total = excluded.total,"
        " orders = excluded.orders where (t.total, t.orders) is distinct from (excluded.total, excluded.orders)"
        " returning 1) select count(*) from written"
    )
    (tmp_path / "create_totals.sql").write_text(
        "create table if not exists gold.op_region_totals (region text, batch text, total numeric(12, 2),"
        " orders bigint, primary key (batch, region));\ncomment on table gold.op_region_totals is 'op test';"
    )
    asset = Asset(name="gold.op_region_totals")
    task = GoldUpsertOperator(
        task_id="publish",
        pipeline="op_gold_files",
        kind="key",
        unit="b1",
        tables=["upsert_totals"],
        fingerprint_sql="fingerprint",
        create_sql="create_totals",  # several statements, creating the table the files write
        sql_dir=str(tmp_path),
        outlets=[asset],
    )
    conn.execute("delete from ops.processed_units where pipeline_name = 'op_gold_files'")
    first = context("manual__f1")
    assert task.execute(first)["rows_written"] == 2
    assert first["outlet_events"][asset].extra["rows_written"] == 2
    # the same sums from other rows: 10 + 5 becomes 7 + 8
    conn.execute("update public.op_orders set amount = 7 where batch = 'b1' and amount = 10")
    conn.execute("update public.op_orders set amount = 8 where batch = 'b1' and amount = 5")
    second = context("manual__f2")
    with pytest.raises(AirflowSkipException, match="no gold change: b1 computed"):
        task.execute(second)
    assert asset not in second["outlet_events"]


def test_gold_sql_files_and_the_unit_are_checked_when_the_dag_is_parsed(tmp_path: Path) -> None:
    (tmp_path / "region_totals.sql").write_text(MODEL)
    args = {"task_id": "t", "pipeline": "p", "sql_dir": str(tmp_path), "target": "g.t", "key": ["k"],
            "unit_column": "k"}  # fmt: skip
    with pytest.raises(ValueError, match=r"no SQL file .*/region_total\.sql"):
        GoldUpsertOperator(model_sql="region_total", **args)  # a typo: the DAG file does not import
    assert GoldUpsertOperator(model_sql="region_totals", kind="day", **args).unit == (
        "{{ data_interval_start.strftime('%Y-%m-%d') }}"  # a day unit's default is a day, not a month
    )
    with pytest.raises(ValueError, match="a 'key' unit needs unit="):
        GoldUpsertOperator(model_sql="region_totals", kind="key", **args)


class LoadsBadInput(EtlOperator):
    def run(self, context) -> None:
        from reliable_etl.errors import BadInputError

        raise BadInputError("orders.csv line 3: quantity 'x' is not a number")


def test_bad_input_fails_a_users_operator_without_retries(conn: psycopg.Connection) -> None:
    task = LoadsBadInput(task_id="load", pipeline="op_bad", retries=3)
    with pytest.raises(AirflowFailException, match=r"orders\.csv line 3"):  # Airflow does not retry this one
        task.execute(context("manual__bad1"))
    assert ledger(conn, "op_bad")[-1][1:3] == ("failed", "orders.csv line 3: quantity 'x' is not a number")


# --- write-audit-publish checks ------------------------------------------------------------------

AT_MOST_ONE_REGION = """
select count(*) <= 1 as passed, count(*) as regions
from gold.op_region_totals
where batch = %(unit_key)s
"""

TOTAL_MATCHES_ORDERS = """
select g.total = o.total as passed, g.total as gold_total, o.total as orders_total
from (select coalesce(sum(total), 0) as total from gold.op_region_totals where batch = %(unit_key)s) as g
cross join (select coalesce(sum(amount), 0) as total from public.op_orders where batch = %(unit_key)s) as o
"""


def checked_operator(sql_dir: Path, severity: str) -> GoldUpsertOperator:
    (sql_dir / "at_most_one_region.sql").write_text(AT_MOST_ONE_REGION)
    (sql_dir / "total_matches_orders.sql").write_text(TOTAL_MATCHES_ORDERS)
    return GoldUpsertOperator(
        task_id="publish",
        pipeline="op_gold",
        kind="key",
        unit="b1",
        model_sql="region_totals",
        target="gold.op_region_totals",
        key=["batch", "region"],
        unit_column="batch",
        sql_dir=str(sql_dir),
        checks=[
            {"name": "total_matches_orders", "sql": "total_matches_orders"},
            {"name": "at_most_one_region", "sql": "at_most_one_region", "severity": severity},
        ],
        outlets=[Asset(name="gold.op_region_totals")],
        retries=3,
    )


def check_results(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "select check_name, severity, passed, published, details, run_id from ops.check_results"
        " where pipeline_name = 'op_gold' order by id"
    ).fetchall()


def test_a_failed_error_check_publishes_nothing_and_fails_the_task_naming_it(
    conn: psycopg.Connection, orders: GoldSpec
) -> None:
    conn.execute("delete from ops.check_results where pipeline_name = 'op_gold'")
    publish_unit(orders, "b2", run_id="op_wap0")  # another unit, published before
    before = table_fingerprint(conn, "gold.op_region_totals")
    task = checked_operator(orders.sql_dir, "error")
    ctx = context("manual__wap1")

    with pytest.raises(AirflowFailException, match=r"at_most_one_region failed \(error\): regions=2"):
        task.execute(ctx)  # not retried: the same rows fail the same check

    assert table_fingerprint(conn, "gold.op_region_totals") == before  # b1 rolled back, b2 untouched
    assert not ctx["outlet_events"]  # no Asset event
    assert check_results(conn) == [
        ("total_matches_orders", "error", True, False, {"gold_total": 22.0, "orders_total": 22.0}, "manual__wap1"),
        ("at_most_one_region", "error", False, False, {"regions": 2}, "manual__wap1"),
    ]
    status = conn.execute(
        "select status, error from ops.processed_units where pipeline_name = 'op_gold' and unit_key = 'b1'"
    ).fetchone()
    assert status[0] == "failed"
    assert "at_most_one_region failed (error): regions=2" in status[1]
    assert ledger(conn, "op_gold")[-1][:2] == ("manual__wap1", "failed")


def test_a_failed_warning_check_publishes_and_reports_it(conn: psycopg.Connection, orders: GoldSpec) -> None:
    conn.execute("delete from ops.check_results where pipeline_name = 'op_gold'")
    task = checked_operator(orders.sql_dir, "warning")
    ctx = context("manual__wap2")

    result = task.execute(ctx)

    assert (result["action"], result["rows_written"]) == ("computed", 2)
    assert totals(conn) == [("b1", "north", 15, 2), ("b1", "south", 7, 1)]
    extra = ctx["outlet_events"][task.outlets[0]].extra
    assert extra["checks"] == {"total_matches_orders": "passed", "at_most_one_region": "failed (warning): regions=2"}
    assert [row[:4] for row in check_results(conn)] == [
        ("total_matches_orders", "error", True, True),
        ("at_most_one_region", "warning", False, True),
    ]
    # an unchanged unit is not audited again: its verdicts stand
    with pytest.raises(AirflowSkipException, match="unchanged"):
        task.execute(context("manual__wap3"))
    assert len(check_results(conn)) == 2


def test_a_check_is_part_of_the_logic_and_is_checked_when_the_dag_is_parsed(
    conn: psycopg.Connection, orders: GoldSpec
) -> None:
    publish_unit(orders, "b1", run_id="op_wap4")
    audited = checked_operator(orders.sql_dir, "warning")
    assert audited.spec.logic_fingerprint != orders.logic_fingerprint  # adding a check audits every unit again
    assert publish_unit(audited.spec, "b1", run_id="op_wap5", dry_run=True).reason == "logic changed"
    with pytest.raises(ValueError, match="severity must be one of"):
        GoldUpsertOperator(
            **{**_args(audited), "checks": [{"name": "c", "sql": "at_most_one_region", "severity": "fatal"}]}
        )
    with pytest.raises(ValueError, match=r"no SQL file .*/no_such_check\.sql"):
        GoldUpsertOperator(**{**_args(audited), "checks": [{"name": "c", "sql": "no_such_check"}]})


def _args(task: GoldUpsertOperator) -> dict:
    spec = task.spec
    return {"task_id": "t", "pipeline": spec.pipeline, "kind": spec.kind, "unit": "b1", "model_sql": spec.model_sql,
            "target": spec.target, "key": list(spec.key), "unit_column": spec.unit_column,
            "sql_dir": str(spec.sql_dir)}  # fmt: skip
