"""Deadline Alerts: a run not finished in time sends a Slack message, from the triggerer.

The triggerer loads no DAG bundle (apache/airflow#65455), so the callback an ``AsyncCallback``
names must be importable there: it lives here, in the installed plugin package, and awaits the
Slack provider's ``SlackWebhookNotifier`` (Connection ``notify_slack``). Runs queued after their
own deadline (a catch-up of old days, a backfill) are logged, not sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import DeadlineAlert

SLACK_CONN_ID = "notify_slack"  # the bundle's notify.DEFAULT_CONN_IDS["slack"]


def _when(value) -> dt.datetime | None:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


async def notify_missed_deadline(*, text: str, slack_webhook_conn_id: str = SLACK_CONN_ID, context=None) -> str:
    """The Deadline Alert callback, run by the triggerer: the Slack provider's notifier, for late runs only.

    A run queued after its own deadline (a catch-up run of an old day, a backfill) could never
    have met it: it is logged, not sent, so a catch-up of a year is not 365 messages.
    """

    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    context = context or {}
    run, deadline = context.get("dag_run") or {}, context.get("deadline") or {}
    queued, due = _when(run.get("queued_at")), _when(deadline.get("deadline_time"))
    if queued and due and queued > due:
        logging.getLogger(__name__).info(
            "deadline of %s %s not notified: the run was queued at %s, after its deadline %s (catch-up)",
            run.get("dag_id"),
            run.get("dag_run_id"),
            queued,
            due,
        )
        return "skipped: queued after its deadline"
    await SlackWebhookNotifier(slack_webhook_conn_id=slack_webhook_conn_id, text=text, context=context)
    return "sent"


def deadline_alert(dag_id: str, after_logical_date: dt.timedelta, *, promise: str) -> DeadlineAlert:
    """A run of ``dag_id`` not finished ``after_logical_date`` after its logical date sends a Slack message.

    The reference is the logical date, not the queued time: in Airflow 3.3.2 clearing a run with
    a queued-at deadline fails (apache/airflow#70368), and clearing is how a failed day is
    recovered. Catch-up runs queued after their deadline are not notified (``notify_missed_deadline``).
    """
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    text = (
        f":alarm_clock: {dag_id}: run {{{{ dag_run.dag_run_id }}}} is not finished ({promise});"
        f" deadline {{{{ deadline.deadline_time }}}} UTC, state {{{{ dag_run.state }}}}"
    )
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=after_logical_date,
        callback=AsyncCallback(notify_missed_deadline, kwargs={"slack_webhook_conn_id": SLACK_CONN_ID, "text": text}),
        name=f"{dag_id} not finished",
    )
