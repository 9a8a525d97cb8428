"""Notifications of a pipeline run: Slack, Microsoft Teams and email, each through its own Connection.

``notify(report)`` sends a ``RunReport`` to every channel whose Connection exists and never raises:
a channel without a Connection is skipped, a failed send is logged (secrets masked) and returned as
"failed: ...". ``RunReportNotifier`` does the same as a DAG or task callback.

Connections (each optional):

- ``notify_slack``, type ``slackwebhook`` (the Slack provider's hook): the webhook token
  ``T000/B000/XXXX`` in ``password`` (host defaults to ``hooks.slack.com/services``), or the whole
  webhook URL in ``password``. Extra may hold ``timeout`` and ``proxy``.
- ``notify_teams``, type ``http``: ``host`` is the webhook's origin (``https://...:443``; or the whole
  URL) and ``password`` the rest of the URL, path and query with its ``sig`` (or the whole URL).
  Keep the secret part in ``password``: Airflow masks it in task logs and the UI, and an http
  Connection's extra is sent as HTTP headers. Extra may hold ``timeout``, ``proxies``, ``verify``.
- ``notify_email``, type ``smtp`` (the SMTP provider's hook): ``host``, ``port``, optional
  ``login``/``password``; extra ``from_email`` and ``to`` ("a@x, b@y"; ``cc``/``bcc`` optional),
  plus the provider's ``disable_ssl`` (default: implicit TLS), ``disable_tls`` (default: STARTTLS),
  ``timeout``, ``retry_limit``.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook
from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException

from reliable_etl.ops.logs import MASK, redact

if TYPE_CHECKING:
    from airflow.sdk import Connection, Context

log = logging.getLogger(__name__)

CHANNELS = ("slack", "teams", "email")
DEFAULT_CONN_IDS = {"slack": "notify_slack", "teams": "notify_teams", "email": "notify_email"}
SENT = "sent"
SKIPPED = "skipped: no connection"

EMOJI = {"success": "\u2705", "warning": "\u26a0\ufe0f", "error": "\u274c"}
TEAMS_COLOR = {"success": "Good", "warning": "Warning", "error": "Attention"}
MAX_ITEMS = 20  # per message; the rest is counted ("... and 3 more")
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class RunReport:
    """What one pipeline run did, per unit of work."""

    pipeline: str
    run_id: str
    status: str  # "success" | "warning" | "error"
    summary: str
    items: list[dict]
    duration_s: float | None = None
    url: str | None = None


# --- message content ----------------------------------------------------------------------


def title(report: RunReport) -> str:
    """``"⚠️ files_nightly: WARNING"``."""
    return f"{EMOJI.get(report.status, '')} {report.pipeline}: {report.status.upper()}".strip()


def summary(report: RunReport) -> str:
    return redact(" ".join(report.summary.split()))


def item_line(item: dict) -> str:
    """``"CDNOW_master.txt -> cdnow_purchases: 69,650 loaded, 9 rejected (0.01%), snapshot ..."``."""
    name = item.get("file") or item.get("unit") or item.get("name") or "?"
    head = f"{name} -> {item['table']}" if item.get("table") else str(name)
    if item.get("error"):
        error = redact(" ".join(str(item["error"]).split()))[:MAX_ERROR_CHARS]
        return f"{head}: {item.get('status') or 'error'}: {error}"
    parts = []
    if item.get("loaded") is not None:
        parts.append(f"{item['loaded']:,} loaded")
    if item.get("rejected") is not None:
        rate = item.get("error_rate")
        if rate is None and item.get("records"):
            rate = item["rejected"] / item["records"]
        parts.append(f"{item['rejected']:,} rejected" + (f" ({rate:.2%})" if rate is not None else ""))
    if item.get("snapshot"):
        parts.append(f"snapshot {item['snapshot']}")
    parts.extend(f"warning: {warning}" for warning in item.get("warnings") or ())
    return f"{head}: {', '.join(parts) or item.get('status') or 'done'}"


def item_lines(report: RunReport) -> list[str]:
    lines = [item_line(item) for item in report.items[:MAX_ITEMS]]
    if len(report.items) > MAX_ITEMS:
        lines.append(f"... and {len(report.items) - MAX_ITEMS} more")
    return lines


def duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(report: RunReport) -> dict[str, Any]:
    """Block Kit blocks and the fallback text (notifications, old clients) of a report."""
    text = _slack_escape(f"{title(report)}: {summary(report)} (run {report.run_id})")
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": title(report)[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(summary(report))[:3000]}},
    ]
    chunk: list[str] = []
    for line in [f"\u2022 {_slack_escape(line)}" for line in item_lines(report)]:
        if chunk and sum(len(c) + 1 for c in chunk) + len(line) > 3000:  # a section holds 3,000 characters
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
            chunk = []
        chunk.append(line[:3000])
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(chunk)}})
    context = [f"run `{_slack_escape(report.run_id)}`"]
    if took := duration(report.duration_s):
        context.append(f"took {took}")
    if report.url:
        context.append(f"<{report.url}|Open in Airflow>")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " \u00b7 ".join(context)}]})
    return {"text": text, "blocks": blocks}


def teams_card(report: RunReport) -> dict[str, Any]:
    """The Adaptive Card (content only) of a report."""
    facts = [{"title": "Pipeline", "value": report.pipeline}, {"title": "Run", "value": report.run_id}]
    if took := duration(report.duration_s):
        facts.append({"title": "Duration", "value": took})
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": title(report),
            "weight": "Bolder",
            "size": "Medium",
            "color": TEAMS_COLOR.get(report.status, "Default"),
            "wrap": True,
        },
        {"type": "TextBlock", "text": summary(report), "wrap": True},
        {"type": "FactSet", "facts": facts},
        *({"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"} for line in item_lines(report)),
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if report.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Airflow", "url": report.url}]
    return card


def email_subject(report: RunReport) -> str:
    """``"[files_nightly] WARNING: 2 files loaded, 13 of 70,000 records rejected (0.02%)"``."""
    return f"[{report.pipeline}] {report.status.upper()}: {summary(report)}"


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "error_rate" and isinstance(value, int | float):
        return f"{value:.2%}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return redact(" ".join(str(value).split()))[:MAX_ERROR_CHARS]


def email_html(report: RunReport) -> str:
    """The HTML body: title, summary, a table of the items (columns: their keys), run facts."""
    esc = html.escape
    columns = list(dict.fromkeys(key for item in report.items for key in item))
    head = "".join(f'<th style="text-align:left">{esc(c.replace("_", " ").capitalize())}</th>' for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{esc(_cell(c, item.get(c)))}</td>" for c in columns) + "</tr>" for item in report.items
    )
    facts = [f"Run: {esc(report.run_id)}"]
    if took := duration(report.duration_s):
        facts.append(f"Duration: {esc(took)}")
    if report.url:
        facts.append(f'<a href="{esc(report.url, quote=True)}">Open in Airflow</a>')
    table = (
        f'<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        if report.items
        else ""
    )
    return (
        f"<html><body><h2>{esc(title(report))}</h2><p>{esc(summary(report))}</p>{table}"
        f"<p>{' &middot; '.join(facts)}</p></body></html>"
    )


# --- masking ------------------------------------------------------------------------------


class Secrets:
    """Masks one Connection's secrets, and the path of a webhook URL, on top of ``redact``.

    Connection errors name the URL's path without its host (``Max retries exceeded with url:
    /workflows/...&sig=...``), which no URL pattern can recognise.
    """

    def __init__(self, conn: Connection | None = None) -> None:
        values: set[str] = set()
        if conn is not None:
            password = (conn.password or "").strip()
            values.update({password, password.lstrip("/")})
            for value in (password, (conn.host or "").strip()):
                if "://" in value:
                    parts = urlsplit(value)
                    values.update({value, parts.path, parts.query, f"{parts.path}?{parts.query}"})
        # longest first, so a whole URL is masked before a part of it
        self.values = sorted((v for v in values if len(v) > 3 and v != "/"), key=len, reverse=True)

    def mask(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        return redact(text)


class MaskedLogger(logging.LoggerAdapter):
    """A logger for third-party clients (slack_sdk logs the webhook URL): every message is masked."""

    def __init__(self, logger: logging.Logger, mask: Callable[[str], str] = redact) -> None:
        super().__init__(logger, {})
        self.mask = mask

    @property
    def level(self) -> int:  # slack_sdk reads ``logger.level`` before building its debug messages
        return self.logger.getEffectiveLevel()

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            kwargs.pop("exc_info", None)  # a traceback would carry the unmasked text
            self.logger.log(level, self.mask(text), **kwargs)


# --- notifiers ----------------------------------------------------------------------------


class SlackReportNotifier(SlackWebhookNotifier):
    """``SlackWebhookNotifier`` with a report's blocks, its client logging through a masking logger."""

    def __init__(self, report: RunReport, *, mask: Callable[[str], str] = redact, **kwargs: Any) -> None:
        kwargs.setdefault("slack_webhook_conn_id", DEFAULT_CONN_IDS["slack"])
        super().__init__(**slack_message(report), **kwargs)
        self.mask = mask

    @cached_property
    def hook(self) -> SlackWebhookHook:
        return SlackWebhookHook(
            slack_webhook_conn_id=self.slack_webhook_conn_id,
            proxy=self.proxy,
            timeout=self.timeout,
            retry_handlers=self.retry_handlers,
            logger=MaskedLogger(logging.getLogger(f"{__name__}.slack"), self.mask),
        )


class TeamsWebhookError(Exception):
    """Teams answered a webhook POST with a non-2xx status."""


class TeamsWebhookHook(HttpHook):
    """POSTs a message to a Teams incoming webhook (Workflows) whose URL an http Connection holds.

    The URL is ``password`` when it is a whole URL, else the Connection's base URL (``host``,
    ``schema``, ``port``, as ``HttpHook`` builds it) followed by ``password``.
    """

    default_conn_name = DEFAULT_CONN_IDS["teams"]
    hook_name = "Microsoft Teams incoming webhook"

    def __init__(self, teams_conn_id: str = default_conn_name) -> None:
        super().__init__(method="POST", http_conn_id=teams_conn_id)

    def webhook_url(self) -> str:
        secret = (self.get_connection(self.http_conn_id).password or "").strip()
        return secret if "://" in secret else self.url_from_endpoint(secret or None)

    def send(self, message: dict[str, Any]) -> requests.Response:
        """POST ``message`` as JSON; a non-2xx answer (Workflows answer 202) raises ``TeamsWebhookError``."""
        session = self.get_conn()  # proxies, verify, timeout from the Connection's extra
        response = session.post(
            self.webhook_url(), json=message, timeout=self.merged_extra.get("timeout", 30), allow_redirects=False
        )
        if not 200 <= response.status_code < 300:
            body = " ".join(response.text[:MAX_ERROR_CHARS].split())
            raise TeamsWebhookError(f"Teams answered {response.status_code} {response.reason}: {body}")
        return response


class TeamsWebhookNotifier(BaseNotifier):
    """Posts an Adaptive Card to a Teams incoming webhook; Airflow has no Teams provider, hence ours."""

    template_fields = ("teams_conn_id", "card")

    def __init__(self, *, card: dict[str, Any], teams_conn_id: str = DEFAULT_CONN_IDS["teams"], **kwargs: Any):
        super().__init__(**kwargs)
        self.card = card
        self.teams_conn_id = teams_conn_id

    @cached_property
    def hook(self) -> TeamsWebhookHook:
        return TeamsWebhookHook(self.teams_conn_id)

    def notify(self, context: Context) -> None:
        self.hook.send(
            {
                "type": "message",
                "attachments": [
                    {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": self.card}
                ],
            }
        )


def email_notifier(report: RunReport, conn: Connection) -> SmtpNotifier:
    """The provider's ``SmtpNotifier`` for a report; recipients from the Connection's extra."""
    extra = conn.extra_dejson
    if not extra.get("to"):
        raise ValueError(f"connection {conn.conn_id!r} has no recipients: set 'to' in its extra")
    return SmtpNotifier(
        to=extra["to"],
        cc=extra.get("cc"),
        bcc=extra.get("bcc"),
        subject=email_subject(report),
        html_content=email_html(report),  # the provider sends one text/html part: no plain-text alternative
        smtp_conn_id=conn.conn_id,
    )


# --- sending ------------------------------------------------------------------------------


def _send(channel: str, report: RunReport, conn: Connection, secrets: Secrets) -> None:
    # notify(), not __call__: no Jinja rendering of the report's text, no unmasked error log
    if channel == "slack":
        SlackReportNotifier(report, slack_webhook_conn_id=conn.conn_id, mask=secrets.mask).notify({})
    elif channel == "teams":
        TeamsWebhookNotifier(card=teams_card(report), teams_conn_id=conn.conn_id).notify({})
    elif channel == "email":
        email_notifier(report, conn).notify({})
    else:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")


def send_to(channel: str, report: RunReport, conn_id: str | None) -> str:
    """Send to one channel: "sent", "skipped: no connection" or "failed: <masked error>"; never raises."""
    secrets = Secrets()
    try:
        if not conn_id:
            raise AirflowNotFoundException(f"no connection id for {channel}")
        conn = BaseHook.get_connection(conn_id)
        secrets = Secrets(conn)
    except AirflowNotFoundException:
        log.info(
            "%s run %s: no connection %r, %s notification skipped", report.pipeline, report.run_id, conn_id, channel
        )
        return SKIPPED
    except Exception as exc:
        return _failed(channel, report, exc, secrets)
    try:
        _send(channel, report, conn, secrets)
    except Exception as exc:
        return _failed(channel, report, exc, secrets)
    log.info("%s run %s: %s notification sent (%s)", report.pipeline, report.run_id, channel, report.status)
    return SENT


def _failed(channel: str, report: RunReport, exc: Exception, secrets: Secrets) -> str:
    error = secrets.mask(" ".join(f"{type(exc).__name__}: {exc}".split()))[:500]
    log.warning("%s run %s: %s notification failed: %s", report.pipeline, report.run_id, channel, error)
    return f"failed: {error}"


def notify(report: RunReport, *, conn_ids: dict[str, str] | None = None) -> dict[str, str]:
    """Send the report to every channel whose Connection exists; returns {channel: "sent" | "skipped: no
    connection" | "failed: <masked error>"}. Never raises.

    ``conn_ids`` overrides ``DEFAULT_CONN_IDS`` per channel.
    """
    ids = {**DEFAULT_CONN_IDS, **(conn_ids or {})}
    return {channel: send_to(channel, report, ids.get(channel)) for channel in CHANNELS}


class RunReportNotifier(BaseNotifier):
    """A DAG or task callback: ``on_failure_callback=RunReportNotifier(report_from_context)``.

    Builds the report from the callback's context and sends it with ``notify``; never raises.
    """

    def __init__(
        self,
        report_from_context: Callable[[Context], RunReport],
        *,
        conn_ids: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_from_context = report_from_context
        self.conn_ids = conn_ids

    def notify(self, context: Context) -> None:
        try:
            report = self.report_from_context(context)
        except Exception as exc:
            log.warning(
                "no notification: the run report could not be built: %s", redact(f"{type(exc).__name__}: {exc}")
            )
            return
        notify(report, conn_ids=self.conn_ids)  # the module's notify(), not this method
