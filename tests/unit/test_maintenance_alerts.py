"""Alert de-duplication against the real warehouse and Redis, messages to a local Slack webhook receiver."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import psycopg
import pytest

from reliable_etl.maintenance import alerts
from reliable_etl.maintenance.alerts import FIRED, RESOLVED, State, decide, evaluate
from reliable_etl.maintenance.tasks import run_job
from reliable_etl_plugin import deadlines

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def key() -> str:
    return f"test:{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("state", "failing", "after", "action", "firing", "count"),
    [
        (State(), True, 1, FIRED, True, 1),
        (State(), True, 2, None, False, 1),
        (State(False, 1), True, 2, FIRED, True, 2),
        (State(True, 5), True, 2, None, True, 6),  # already firing: silent
        (State(True, 5), False, 2, RESOLVED, False, 0),
        (State(False, 1), False, 2, None, False, 0),  # one blip below the threshold: nothing sent, reset
    ],
)
def test_the_rule(state, failing, after, action, firing, count) -> None:
    got, new = decide(state, failing, after, NOW)
    assert (got, new.firing, new.consecutive_failures) == (action, firing, count)


def test_a_long_outage_sends_one_alert_and_one_recovery(slack, redis_ns, conn: psycopg.Connection) -> None:
    name = key()
    actions = [evaluate(name, True, "redis down: ConnectionError", after=2).action for _ in range(6)]
    assert actions == [None, FIRED, None, None, None, None]
    assert evaluate(name, False, "redis healthy", after=2).action == RESOLVED
    assert evaluate(name, False, "redis healthy", after=2).action is None
    assert len(slack.posts) == 2
    fired, resolved = slack.texts()
    assert "ERROR" in fired
    assert "redis down" in fired
    assert name in fired
    assert "SUCCESS" in resolved
    assert "recovered (failing since" in resolved
    row = conn.execute(
        "select firing, consecutive_failures, notifications from ops.alert_state where alert_key = %s", (name,)
    ).fetchone()
    assert row == (False, 0, 2)


def test_two_checks_at_once_send_one_alert(slack, redis_ns, schema) -> None:
    name = key()
    barrier = threading.Barrier(4)
    results = []

    def check() -> None:
        barrier.wait()
        results.append(evaluate(name, True, "down").action)

    threads = [threading.Thread(target=check) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(FIRED) == 1
    assert results.count(None) == 3
    assert len(slack.posts) == 1


def test_with_the_warehouse_down_redis_keeps_the_state_and_the_table_takes_it_over(
    private_pg, private_warehouse, slack, redis_ns
) -> None:
    name = key()
    private_pg.stop("immediate")
    decisions = [evaluate(name, True, "postgres down") for _ in range(3)]
    assert [d.action for d in decisions] == [FIRED, None, None]
    assert {d.store for d in decisions} == {"redis"}
    private_pg.start()
    back = evaluate(name, False, "postgres healthy")
    assert (back.action, back.store) == (RESOLVED, "table")
    assert len(slack.posts) == 2
    assert evaluate(name, True, "postgres down").action == FIRED  # a new outage is a new alert


def test_with_warehouse_and_redis_down_the_alert_is_sent_anyway(private_pg, private_warehouse, slack, redis_down):
    private_pg.stop("immediate")
    try:
        decision = evaluate(key(), True, "everything down", after=2)
    finally:
        private_pg.start()
    assert (decision.action, decision.store) == (FIRED, "none")
    assert len(slack.posts) == 1


def test_a_health_check_with_redis_down_alerts_once_after_two_checks(slack, redis_down, schema, conn) -> None:
    conn.execute("delete from ops.alert_state where alert_key like 'health:%'")
    for _ in range(4):
        run_job("health_check")
    redis_alerts = [t for t in slack.texts() if "health:redis" in t]
    assert len(redis_alerts) == 1
    assert "redis down: redis: ConnectionError" in redis_alerts[0]
    conn.execute("delete from ops.alert_state where alert_key like 'health:%'")


def test_a_crashing_job_is_alerted_and_fails(slack, schema, monkeypatch) -> None:
    def broken(**_kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("reliable_etl.maintenance.cleanup.cleanup_old_data", broken)
    with pytest.raises(ZeroDivisionError):
        run_job("cleanup_old_data", run_id=key())
    assert any("cleanup_old_data failed: ZeroDivisionError: a bug" in t for t in slack.texts())


def test_deadline_alerts_are_async_slack_callbacks_on_the_logical_date() -> None:
    from airflow.sdk import AsyncCallback, DeadlineReference

    retail, files = alerts.retail_deadline(), alerts.files_deadline()
    assert retail.reference == DeadlineReference.DAGRUN_LOGICAL_DATE  # not queued-at: apache/airflow#70368
    assert retail.interval == dt.timedelta(days=1, hours=8)  # 8 h after day D's data interval ends
    assert files.interval == dt.timedelta(hours=6)  # 08:00 UTC for the 02:00 run
    assert isinstance(retail.callback, AsyncCallback)
    assert retail.callback.path == "reliable_etl_plugin.deadlines.notify_missed_deadline"
    assert retail.callback.kwargs["slack_webhook_conn_id"] == "notify_slack"
    assert "{{ dag_run.dag_run_id }}" in retail.callback.kwargs["text"]


def test_the_deadline_callback_sends_for_a_late_run_and_skips_a_catch_up_run(slack) -> None:
    import asyncio

    due = "2026-01-02T10:00:00+00:00"
    late = {"dag_run": {"dag_run_id": "scheduled__x", "queued_at": "2026-01-02T02:00:01+00:00"}, "deadline": {}}
    late["deadline"]["deadline_time"] = due
    text = "late: {{ dag_run.dag_run_id }}"
    assert asyncio.run(deadlines.notify_missed_deadline(text=text, context=late)) == "sent"
    catch_up = {
        "dag_run": {"dag_run_id": "y", "queued_at": "2026-03-01T00:00:00+00:00"},
        "deadline": {"deadline_time": due},
    }
    assert asyncio.run(deadlines.notify_missed_deadline(text=text, context=catch_up)).startswith("skipped")
    assert slack.texts() == ["late: scheduled__x"]
